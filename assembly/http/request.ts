// The hot path: request headers → target form → host → API match → key → digest lookup → plan → method → quota →
// forward or reply (the order is docs/filter.md's "Hot path"). Host calls on an allowed request:
// get_header_map_pairs, get_current_time, get_shared_data, set_shared_data, set_header_map_pairs. Nothing here
// allocates: buffers are preallocated and reused.

import {
  proxy_get_current_time_nanoseconds, proxy_get_header_map_pairs, proxy_set_header_map_pairs,
  MAP_REQUEST_HEADERS, RESULT_OK,
} from "../abi/imports";
import { clearOut, OUT_LEN, OUT_PTR, OUT_U64 } from "../abi/memory";
import { PairTable, PairWriter } from "../abi/pairs";
import { bytesEqual, copyBytes, startsWithIgnoreCase } from "../bytes";
import { Config, KeyLocation, Plan } from "../config/model";
import { hostRestrictedPrefix, matchApi, matchPathHost, normalizeAuthority, pathLength } from "../match";
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
import { allowedMethods, ALLOW_PTR } from "./allow";
import { formPasses, FORM_ORIGIN, requestForm } from "./form";
import { namesEqualDashFolded } from "./headername";
import {
  ALLOW, P_BAD_REQUEST, P_FORBIDDEN, P_INVALID_KEY, P_METHOD_NOT_ALLOWED, P_MISSING_KEY, P_QUOTA, sendProblem,
  sendProblemWith, WWW_AUTHENTICATE,
} from "./problem";
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

/** Counts a rejection (usage + metric). */
function count(cfg: Config, outcome: u32, key: usize, keyLen: usize, api: usize, apiLen: usize, now: i64): void {
  bump(outcome == OUT_REJECTED_AUTH ? M_DENIED_AUTH : outcome == OUT_REJECTED_QUOTA ? M_DENIED_QUOTA : M_DENIED_FORBIDDEN);
  if (cfg.usage != null) {
    countRequest(<f64>(now - now % 60), key, keyLen, api, apiLen, outcome, 0);
  }
}

/** Counts a rejection and replies; 401s carry the configuration's WWW-Authenticate challenge. */
function reject(cfg: Config, kind: i32, outcome: u32, key: usize, keyLen: usize, api: usize, apiLen: usize, now: i64, d: Decision | null): u32 {
  count(cfg, outcome, key, keyLen, api, apiLen, now);
  if (kind == P_MISSING_KEY || kind == P_INVALID_KEY) {
    sendProblemWith(kind, d, ab(WWW_AUTHENTICATE), abLen(WWW_AUTHENTICATE), ab(cfg.wwwAuthenticate), abLen(cfg.wwwAuthenticate));
  } else {
    sendProblem(kind, d);
  }
  return FILTER_STOP;
}

/** 400 bad-request before any API is known (not counted in usage: there is no API to count it under). */
function badRequest(): u32 {
  bump(M_DENIED_FORBIDDEN);
  sendProblem(P_BAD_REQUEST, null);
  return FILTER_STOP;
}

/** Whether a header name is a configured identity header, '-' and '_' alike (always stripped from requests). */
function isIdentityHeader(cfg: Config, kp: usize, kl: usize): bool {
  const strip = cfg.strip;
  for (let j = 0; j < cfg.identityStripCount; j++) {
    if (unchecked(strip[j * 4 + 1]) == kl && namesEqualDashFolded(unchecked(strip[j * 4]), kp, kl)) return true;
  }
  return false;
}

/** Whether header i must not reach the upstream: an identity header, or (hideCredentials) a key location's. */
function isStripped(cfg: Config, i: i32): bool {
  const kp = table.keyPtr(i), kl = table.keyLen(i);
  const strip = cfg.strip;
  for (let j = 0; j < cfg.stripCount; j++) {
    const np = unchecked(strip[j * 4]);
    if (unchecked(strip[j * 4 + 1]) != kl) continue;
    if (load<u8>(np) != load<u8>(kp) || memory.compare(np, kp, kl) != 0) {
      // Not the exact name; an identity header spelled with '_' is still a forgery (CGI reads both alike).
      if (j < cfg.identityStripCount && namesEqualDashFolded(np, kp, kl)) return true;
      continue;
    }
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

/**
 * A valid key on a protected path with a method none of its APIs lists: 403 if the plan includes none of the APIs
 * on this path and host, else 405 with Allow. Counted as rejected_forbidden (under the first included API); no quota.
 */
function wrongMethod(cfg: Config, plan: Plan, keyId: usize, keyIdLen: usize, first: i32, host: usize, hostLen: usize, path: usize, pathLen: usize, now: i64): u32 {
  let j = first;
  while (j >= 0 && !plan.allowsApi(j)) j = matchPathHost(cfg.apis, host, hostLen, path, pathLen, j + 1);
  if (j < 0) {
    const id = unchecked(cfg.apis[first]).id;
    return reject(cfg, P_FORBIDDEN, OUT_REJECTED_FORBIDDEN, keyId, keyIdLen, ab(id), abLen(id), now, null);
  }
  const id = unchecked(cfg.apis[j]).id;
  count(cfg, OUT_REJECTED_FORBIDDEN, keyId, keyIdLen, ab(id), abLen(id), now);
  const n = allowedMethods(cfg.apis, host, hostLen, path, pathLen);
  sendProblemWith(P_METHOD_NOT_ALLOWED, null, ab(ALLOW), abLen(ALLOW), ALLOW_PTR, n);
  return FILTER_STOP;
}

export function onRequestHeaders(cfg: Config, ctx: u32): u32 {
  clearOut();
  if (proxy_get_header_map_pairs(MAP_REQUEST_HEADERS, OUT_PTR, OUT_LEN) != RESULT_OK ||
      !table.decode(<usize>load<u32>(OUT_PTR), <usize>load<u32>(OUT_LEN))) {
    // Fail closed: headers we cannot read (more than MAX_PAIRS, or malformed) must not become a way around the
    // key check by making the request look unmatched.
    return badRequest();
  }
  let methodIdx = -1, pathIdx = -1, authIdx = -1;
  for (let i = 0; i < table.count; i++) {
    const kp = table.keyPtr(i), kl = table.keyLen(i);
    if (kl == 0 || load<u8>(kp) != 0x3a) continue;
    if (methodIdx < 0 && bytesEqual(kp, kl, ab(METHOD), 7)) methodIdx = i;
    else if (pathIdx < 0 && bytesEqual(kp, kl, ab(PATH), 5)) pathIdx = i;
    else if (authIdx < 0 && bytesEqual(kp, kl, ab(AUTHORITY), 10)) authIdx = i;
  }
  const method = methodIdx >= 0 ? table.valuePtr(methodIdx) : 0;
  const methodLen = methodIdx >= 0 ? table.valueLen(methodIdx) : 0;
  const path = pathIdx >= 0 ? table.valuePtr(pathIdx) : 0;
  const fullPathLen = pathIdx >= 0 ? table.valueLen(pathIdx) : 0;
  // Only an origin-form :path ("/…") can be matched; any other form would look unmatched and pass without a key.
  const form = requestForm(method, methodLen, path, fullPathLen);
  if (form != FORM_ORIGIN) {
    if (!formPasses(form, cfg.passPathForms)) return badRequest();
    stripForgedIdentity(cfg);
    return FILTER_CONTINUE;
  }
  // 0 = no usable host (absent, too long, or not a host name once normalized).
  let hostLen: usize = 0;
  if (authIdx >= 0 && table.valueLen(authIdx) <= MAX_HOST_BYTES) {
    hostLen = normalizeAuthority(table.valuePtr(authIdx), table.valueLen(authIdx), HOST);
  }
  let mPath = path, mLen = pathLength(path, fullPathLen);
  if (pathNeedsNormalizing(mPath, mLen)) {
    matchPath.reset();
    const buf = matchPath.reserve(mLen);
    const n = normalizePath(path, mLen, buf);
    // A dot segment: refused whatever the route, or it could be matched as one API and served as another.
    if (n < 0) return badRequest();
    mPath = buf; mLen = <usize>n;
  }
  // Without a host, a host-restricted API cannot be told apart from another route on the same path: fail closed.
  if (hostLen == 0 && hostRestrictedPrefix(cfg.apis, mPath, mLen)) return badRequest();
  const apiIdx = matchApi(cfg.apis, method, methodLen, HOST, hostLen, mPath, mLen);
  // The API whose key rules apply: the match, or on a protected path whose APIs do not list this method, the first
  // of them (the key is still checked first, then 403 or 405).
  let guardIdx = apiIdx;
  if (apiIdx < 0) {
    guardIdx = matchPathHost(cfg.apis, HOST, hostLen, mPath, mLen, 0);
    if (guardIdx < 0) {
      if (cfg.denyUnmatched) return reject(cfg, P_FORBIDDEN, OUT_REJECTED_FORBIDDEN, 0, 0, 0, 0, nowSeconds(), null);
      stripForgedIdentity(cfg);
      return FILTER_CONTINUE;
    }
  }
  const api = unchecked(cfg.apis[guardIdx]);
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
  if (apiIdx < 0) return wrongMethod(cfg, plan, keyId, keyIdLen, guardIdx, HOST, hostLen, mPath, mLen, now);
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
