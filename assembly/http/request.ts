// The hot path: request headers → API match → key → digest lookup → plan → quota → forward or reply.
// Host calls on an allowed request: get_header_map_pairs, get_current_time, get_shared_data,
// set_shared_data, set_header_map_pairs. Nothing here allocates: buffers are preallocated and reused.

import {
  proxy_get_current_time_nanoseconds, proxy_get_header_map_pairs, proxy_set_header_map_pairs,
  MAP_REQUEST_HEADERS, RESULT_OK,
} from "../abi/imports";
import { clearOut, OUT_LEN, OUT_PTR, OUT_U64 } from "../abi/memory";
import { PairTable, PairWriter } from "../abi/pairs";
import { bytesEqual, copyBytes, startsWithIgnoreCase } from "../bytes";
import { Config, KeyLocation } from "../config/model";
import { matchApi, normalizeAuthority, pathLength } from "../match";
import { bump, M_ALLOWED, M_DENIED_AUTH, M_DENIED_FORBIDDEN, M_DENIED_QUOTA } from "../metrics";
import { percentDecode } from "../percent";
import { Decision } from "../quota/entry";
import { enforceQuota, ENFORCE_CONTENDED } from "../quota/shared";
import { sha256 } from "../sha256";
import { ByteSink } from "../sink";
import {
  F_ALLOWED, F_RATELIMIT, S_API, S_API_LEN, S_FLAGS, S_KEY, S_KEY_LEN, S_MINUTE, S_RL_LIMIT, S_RL_REMAINING,
  S_RL_RESET, streamAcquire,
} from "../streams";
import { countRequest, OUT_REJECTED_AUTH, OUT_REJECTED_FORBIDDEN, OUT_REJECTED_QUOTA } from "../usage/counters";
import { P_BAD_REQUEST, P_FORBIDDEN, P_INVALID_KEY, P_MISSING_KEY, P_QUOTA, sendProblem } from "./problem";
import { normalizePath, pathNeedsNormalizing } from "./path";
import { paramValue, paramValueLen, findParam, pathWithout } from "./query";

export const FILTER_CONTINUE: u32 = 0;
export const FILTER_STOP: u32 = 1;

const MAX_KEY_BYTES: usize = 256;
const MAX_HOST_BYTES: usize = 1024;

const table = new PairTable();
const writer = new PairWriter();
const newPath = new ByteSink();
/** The normalized path used for matching (only for paths that need it; see path.ts). */
const matchPath = new ByteSink();
const HOST = memory.data(<i32>MAX_HOST_BYTES);
// Percent-decoding never grows, and a raw value over 3 × 256 bytes cannot decode to ≤ 256: 768 bytes suffice.
const KEY = memory.data(<i32>MAX_KEY_BYTES * 3);
const DIGEST = memory.data(32);
const decision = new Decision();
const contended = new Decision();

const METHOD = String.UTF8.encode(":method");
const PATH = String.UTF8.encode(":path");
const AUTHORITY = String.UTF8.encode(":authority");

@inline function ab(b: ArrayBuffer): usize { return changetype<usize>(b); }
@inline function abLen(b: ArrayBuffer): usize { return <usize>b.byteLength; }

function nowSeconds(): i64 {
  if (proxy_get_current_time_nanoseconds(OUT_U64) != RESULT_OK) return 0;
  return <i64>(load<u64>(OUT_U64) / 1000000000);
}

/** Counts a rejection (usage + metric) and replies. */
function reject(cfg: Config, kind: i32, outcome: u32, key: usize, keyLen: usize, api: usize, apiLen: usize, now: i64, d: Decision | null): u32 {
  bump(outcome == OUT_REJECTED_AUTH ? M_DENIED_AUTH : outcome == OUT_REJECTED_QUOTA ? M_DENIED_QUOTA : M_DENIED_FORBIDDEN);
  if (cfg.usage != null) {
    countRequest(<f64>(now - now % 60), key, keyLen, api, apiLen, outcome, 0);
  }
  sendProblem(kind, d);
  return FILTER_STOP;
}

/** Whether a header name is a configured identity header (always stripped from requests). */
function isIdentityHeader(cfg: Config, kp: usize, kl: usize): bool {
  return (cfg.consumerHeader.byteLength > 0 && bytesEqual(kp, kl, ab(cfg.consumerHeader), abLen(cfg.consumerHeader))) ||
    (cfg.keyIdHeader.byteLength > 0 && bytesEqual(kp, kl, ab(cfg.keyIdHeader), abLen(cfg.keyIdHeader))) ||
    (cfg.planHeader.byteLength > 0 && bytesEqual(kp, kl, ab(cfg.planHeader), abLen(cfg.planHeader)));
}

/** Whether header i must not reach the upstream: an identity header, or (hideCredentials) a key location's. */
function isStripped(cfg: Config, i: i32): bool {
  const kp = table.keyPtr(i), kl = table.keyLen(i);
  const strip = cfg.strip;
  for (let j = 0; j < cfg.stripCount; j++) {
    const np = unchecked(strip[j * 4]);
    if (unchecked(strip[j * 4 + 1]) != kl || load<u8>(np) != load<u8>(kp) || memory.compare(np, kp, kl) != 0) continue;
    const pl = unchecked(strip[j * 4 + 3]);
    if (pl == 0 || startsWithIgnoreCase(table.valuePtr(i), table.valueLen(i), unchecked(strip[j * 4 + 2]), pl)) return true;
  }
  return false;
}

// Key search results.
let keyPtr: usize = 0;
let keyLen: usize = 0;
let keyFromQuery = false;

/** Finds the key per keyLocations (first hit wins). Returns false when no location holds one. */
function findKey(cfg: Config, path: usize, pathLen: usize): bool {
  for (let l = 0; l < cfg.locations.length; l++) {
    const loc: KeyLocation = unchecked(cfg.locations[l]);
    if (loc.isQuery) {
      if (findParam(path, pathLen, ab(loc.name), abLen(loc.name)) && paramValueLen > 0) {
        keyPtr = paramValue; keyLen = paramValueLen; keyFromQuery = true;
        return true;
      }
    } else {
      const i = table.find(ab(loc.name), abLen(loc.name));
      if (i < 0) continue;
      let vp = table.valuePtr(i), vl = table.valueLen(i);
      const pl = abLen(loc.prefix);
      if (pl > 0) {
        if (!startsWithIgnoreCase(vp, vl, ab(loc.prefix), pl)) continue;
        vp += pl; vl -= pl;
      }
      if (vl == 0) continue;
      keyPtr = vp; keyLen = vl; keyFromQuery = false;
      return true;
    }
  }
  return false;
}

/** Rewrites the request headers for upstream: strips identity/credential headers, adds identity. */
function forward(cfg: Config, k: i32, planIdx: i32, pathIdx: i32): void {
  writer.reset();
  let rewritePath = false;
  if (cfg.stripQueryCount > 0 && pathIdx >= 0) {
    rewritePath = pathWithout(table.valuePtr(pathIdx), table.valueLen(pathIdx), cfg.stripQuery, cfg.stripQueryCount, newPath);
  }
  for (let i = 0; i < table.count; i++) {
    if (isStripped(cfg, i)) table.skip(i);
    else if (rewritePath && i == pathIdx) table.replace(i, newPath.ptr, newPath.len);
  }
  const keys = cfg.keys;
  if (cfg.consumerHeader.byteLength > 0) writer.add(ab(cfg.consumerHeader), abLen(cfg.consumerHeader), keys.consumerPtr(k), keys.consumerLen(k));
  if (cfg.keyIdHeader.byteLength > 0) writer.add(ab(cfg.keyIdHeader), abLen(cfg.keyIdHeader), keys.keyIdPtr(k), keys.keyIdLen(k));
  if (cfg.planHeader.byteLength > 0) {
    const pid = unchecked(cfg.plans[planIdx]).id;
    writer.add(ab(cfg.planHeader), abLen(cfg.planHeader), ab(pid), abLen(pid));
  }
  writer.finishFrom(table);
  proxy_set_header_map_pairs(MAP_REQUEST_HEADERS, writer.ptr, writer.len);
}

/** Removes forged identity headers from a request that matched no API (only if there are any). */
function stripForgedIdentity(cfg: Config): void {
  let found = false;
  for (let i = 0; i < table.count; i++) {
    if (isIdentityHeader(cfg, table.keyPtr(i), table.keyLen(i))) { found = true; break; }
  }
  if (!found) return;
  writer.reset();
  for (let i = 0; i < table.count; i++) {
    if (isIdentityHeader(cfg, table.keyPtr(i), table.keyLen(i))) table.skip(i);
  }
  writer.finishFrom(table);
  proxy_set_header_map_pairs(MAP_REQUEST_HEADERS, writer.ptr, writer.len);
}

export function onRequestHeaders(cfg: Config, ctx: u32): u32 {
  clearOut();
  if (proxy_get_header_map_pairs(MAP_REQUEST_HEADERS, OUT_PTR, OUT_LEN) != RESULT_OK ||
      !table.decode(<usize>load<u32>(OUT_PTR), <usize>load<u32>(OUT_LEN))) {
    // Fail closed: headers we cannot read (more than MAX_PAIRS, or malformed) must not become a way around the
    // key check by making the request look unmatched.
    bump(M_DENIED_FORBIDDEN);
    sendProblem(P_BAD_REQUEST, null);
    return FILTER_STOP;
  }
  let methodIdx = -1, pathIdx = -1, authIdx = -1;
  for (let i = 0; i < table.count; i++) {
    const kp = table.keyPtr(i), kl = table.keyLen(i);
    if (kl == 0 || load<u8>(kp) != 0x3a) continue;
    if (methodIdx < 0 && bytesEqual(kp, kl, ab(METHOD), 7)) methodIdx = i;
    else if (pathIdx < 0 && bytesEqual(kp, kl, ab(PATH), 5)) pathIdx = i;
    else if (authIdx < 0 && bytesEqual(kp, kl, ab(AUTHORITY), 10)) authIdx = i;
  }
  const path = pathIdx >= 0 ? table.valuePtr(pathIdx) : 0;
  const fullPathLen = pathIdx >= 0 ? table.valueLen(pathIdx) : 0;
  let hostLen: usize = 0;
  if (authIdx >= 0 && table.valueLen(authIdx) <= MAX_HOST_BYTES) {
    hostLen = normalizeAuthority(table.valuePtr(authIdx), table.valueLen(authIdx), HOST);
  }
  let mPath = path, mLen = pathLength(path, fullPathLen);
  if (pathNeedsNormalizing(mPath, mLen)) {
    matchPath.reset();
    const buf = matchPath.reserve(mLen);
    const n = normalizePath(path, mLen, buf);
    if (n < 0) {
      // A dot segment: refused whatever the route, or it could be matched as one API and served as another.
      bump(M_DENIED_FORBIDDEN);
      sendProblem(P_BAD_REQUEST, null);
      return FILTER_STOP;
    }
    mPath = buf; mLen = <usize>n;
  }
  const apiIdx = matchApi(
    cfg.apis,
    methodIdx >= 0 ? table.valuePtr(methodIdx) : 0, methodIdx >= 0 ? table.valueLen(methodIdx) : 0,
    HOST, hostLen, mPath, mLen,
  );
  if (apiIdx < 0) {
    if (cfg.denyUnmatched) return reject(cfg, P_FORBIDDEN, OUT_REJECTED_FORBIDDEN, 0, 0, 0, 0, nowSeconds(), null);
    stripForgedIdentity(cfg);
    return FILTER_CONTINUE;
  }
  const api = unchecked(cfg.apis[apiIdx]);
  const apiId = ab(api.id), apiIdLen = abLen(api.id);

  if (!findKey(cfg, path, fullPathLen)) {
    return reject(cfg, P_MISSING_KEY, OUT_REJECTED_AUTH, 0, 0, apiId, apiIdLen, nowSeconds(), null);
  }
  let kp = keyPtr, kl = keyLen;
  if (keyFromQuery) {
    if (kl > MAX_KEY_BYTES * 3) return reject(cfg, P_INVALID_KEY, OUT_REJECTED_AUTH, 0, 0, apiId, apiIdLen, nowSeconds(), null);
    const n = percentDecode(kp, kl, KEY);
    if (n <= 0) return reject(cfg, P_INVALID_KEY, OUT_REJECTED_AUTH, 0, 0, apiId, apiIdLen, nowSeconds(), null);
    kp = KEY; kl = <usize>n;
  }
  if (kl > MAX_KEY_BYTES) return reject(cfg, P_INVALID_KEY, OUT_REJECTED_AUTH, 0, 0, apiId, apiIdLen, nowSeconds(), null);
  sha256(kp, kl, DIGEST);
  const keys = cfg.keys;
  const k = keys.find(DIGEST);
  const now = nowSeconds();
  if (k < 0) return reject(cfg, P_INVALID_KEY, OUT_REJECTED_AUTH, 0, 0, apiId, apiIdLen, now, null);
  const keyId = keys.keyIdPtr(k), keyIdLen = keys.keyIdLen(k);
  const expires = unchecked(keys.expiresAt[k]);
  const notBefore = unchecked(keys.notBefore[k]);
  if ((expires > 0 && <f64>now >= expires) || (notBefore > 0 && <f64>now < notBefore)) {
    return reject(cfg, P_INVALID_KEY, OUT_REJECTED_AUTH, keyId, keyIdLen, apiId, apiIdLen, now, null);
  }
  const planIdx = unchecked(keys.plan[k]);
  const plan = unchecked(cfg.plans[planIdx]);
  if (!plan.allowsApi(apiIdx)) {
    return reject(cfg, P_FORBIDDEN, OUT_REJECTED_FORBIDDEN, keyId, keyIdLen, apiId, apiIdLen, now, null);
  }
  if (enforceQuota(ab(plan.id), abLen(plan.id), keys.consumerPtr(k), keys.consumerLen(k), plan.limits, now, decision) == ENFORCE_CONTENDED) {
    contended.admitted = false;
    contended.hasLimit = false;
    return reject(cfg, P_QUOTA, OUT_REJECTED_QUOTA, keyId, keyIdLen, apiId, apiIdLen, now, contended);
  }
  if (!decision.admitted) {
    return reject(cfg, P_QUOTA, OUT_REJECTED_QUOTA, keyId, keyIdLen, apiId, apiIdLen, now, decision);
  }

  bump(M_ALLOWED);
  const s = streamAcquire(ctx);
  let flags = F_ALLOWED;
  if (cfg.rateLimitHeaders && decision.hasLimit) {
    flags |= F_RATELIMIT;
    store<u32>(s, decision.limit, S_RL_LIMIT);
    store<u32>(s, decision.remaining, S_RL_REMAINING);
    store<u32>(s, decision.reset, S_RL_RESET);
  }
  store<u32>(s, flags, S_FLAGS);
  store<f64>(s, cfg.usage != null ? <f64>(now - now % 60) : -1, S_MINUTE);
  store<u8>(s, <u8>keyIdLen, S_KEY_LEN);
  copyBytes(s + S_KEY, keyId, keyIdLen);
  store<u8>(s, <u8>apiIdLen, S_API_LEN);
  copyBytes(s + S_API, apiId, apiIdLen);
  forward(cfg, k, planIdx, pathIdx);
  return FILTER_CONTINUE;
}
