// A request's verdict (decision.ts) applied, in one place: the local reply or the rewritten header map (the host
// calls), usage counters and metrics for refusals, and the stream state an allowed request leaves for its response
// and log callbacks. The only other host calls of the request path read facts (header map, clock) or are the
// quota's CAS loop, which must write in the same step as it decides (quota/shared.ts).

import { proxy_set_header_map_pairs, MAP_REQUEST_HEADERS } from "../abi/imports";
import { PairTable, PairWriter } from "../abi/pairs";
import { ab, abLen, copyShort, zeroBytes } from "../bytes";
import { Config, MAX_LIMIT_ID, STYLE_IETF, STYLE_LEGACY } from "../config/model";
import { elementAt } from "../element";
import { bump, M_ALLOWED, M_DENIED_AUTH, M_DENIED_FORBIDDEN, M_DENIED_QUOTA, M_WOULD_REJECT } from "../metrics";
import { ByteSink } from "../sink";
import {
  F_ALLOWED, F_IETF, F_LEGACY, F_RATELIMIT, F_WOULD_REJECT, S_API, S_API_LEN, S_FLAGS, S_KEY, S_KEY_LEN, S_LID,
  S_LID_LEN, S_MINUTE, S_OP, S_OP_LEN, S_RL_LIMIT, S_RL_REMAINING, S_RL_RESET, S_RL_WINDOW, S_UNITS, streamAcquire,
} from "../streams";
import {
  countRequest, OUTCOME_REJECTED_AUTH, OUTCOME_REJECTED_FORBIDDEN, OUTCOME_REJECTED_QUOTA,
} from "../usage/counters";
import { allowedMethods, ALLOW_PTR, operationMethods } from "./allow";
import { hideCredentials } from "./credentials";
import {
  RequestFacts, Verdict, V_ALLOW, V_BAD_REQUEST, V_FORBIDDEN, V_INVALID_KEY, V_METHOD_NOT_ALLOWED, V_MISSING_KEY,
  V_NOT_FOUND, V_PASS, V_PASS_UNMATCHED, V_QUOTA,
} from "./decision";
import { addIdentity, forgedCount } from "./identity";
import { KeyRef } from "./keyref";
import { H_ALLOW, H_WWW_AUTHENTICATE } from "./names";
import {
  P_BAD_REQUEST, P_FORBIDDEN, P_INVALID_KEY, P_METHOD_NOT_ALLOWED, P_MISSING_KEY, P_NOT_FOUND, P_QUOTA, sendProblem,
  sendProblemWith,
} from "./problem";

export const FILTER_CONTINUE: u32 = 0;
export const FILTER_STOP: u32 = 1;

const writer = new PairWriter();
/** The forwarded :path when key parameters are taken out of it. */
const newPath = new ByteSink();

/** Counts a refusal: its metric, and (with usage reporting) a usage counter under its key and API ids. */
function count(cfg: Config, v: Verdict, ref: KeyRef, now: i64): void {
  const k = v.kind;
  const outcome = k == V_MISSING_KEY || k == V_INVALID_KEY ? OUTCOME_REJECTED_AUTH
    : k == V_QUOTA ? OUTCOME_REJECTED_QUOTA : OUTCOME_REJECTED_FORBIDDEN;
  bump(outcome == OUTCOME_REJECTED_AUTH ? M_DENIED_AUTH : outcome == OUTCOME_REJECTED_QUOTA ? M_DENIED_QUOTA : M_DENIED_FORBIDDEN);
  if (cfg.usage == null) return;
  let key: usize = 0, keyLen: usize = 0, api: usize = 0, apiLen: usize = 0, op: usize = 0, opLen: usize = 0;
  if (v.key >= 0) { key = ref.keyId; keyLen = ref.keyIdLen; }
  if (v.countApi >= 0) {
    const a = elementAt(cfg.apis, v.countApi);
    api = ab(a.id); apiLen = abLen(a.id);
    // A 429 of an operation is counted under it (its operation-scoped fleet windows count from these entries).
    if (k == V_QUOTA && v.op >= 0 && v.countApi == v.api) {
      const id = elementAt(a.operations!.ops, v.op).id;
      op = ab(id); opLen = abLen(id);
    }
  }
  countRequest(<f64>(now - now % 60), key, keyLen, api, apiLen, outcome, 0, 1, op, opLen);
}

/** Sends the rewritten request header map: the table minus what it skips, plus what the writer staged. */
@inline function forward(t: PairTable): void {
  writer.finishFrom(t);
  proxy_set_header_map_pairs(MAP_REQUEST_HEADERS, writer.ptr, writer.len);
}

/** What the upstream gets of an allowed request, and what its response and log callbacks need. */
@inline function allow(cfg: Config, v: Verdict, k: KeyRef, t: PairTable, pathIdx: i32, ctx: u32, now: i64): void {
  bump(M_ALLOWED);
  const api = elementAt(cfg.apis, v.api).id;
  const keyIdLen = k.keyIdLen;
  const d = v.quota;
  const s = streamAcquire(ctx);
  let flags = F_ALLOWED;
  if (cfg.rateLimitHeaders && d != null && d.hasLimit) {
    const style = cfg.headerStyle;
    flags |= F_RATELIMIT | ((style & STYLE_LEGACY) != 0 ? F_LEGACY : 0);
    store<u32>(s, d.limit, S_RL_LIMIT);
    store<u32>(s, d.remaining, S_RL_REMAINING);
    store<u32>(s, d.reset, S_RL_RESET);
    const l = d.which;
    if ((style & STYLE_IETF) != 0 && l != null) {
      // The response side names the limit in RateLimit-Policy: a copy (the configuration may change before it).
      flags |= F_IETF;
      const n = min(abLen(l.id), MAX_LIMIT_ID);
      store<u8>(s, <u8>n, S_LID_LEN);
      copyShort(s + S_LID, ab(l.id), n);
      store<u32>(s, d.window, S_RL_WINDOW);
    }
  }
  const shadow = d != null ? d.shadow : null;
  if (shadow != null) {
    flags |= F_WOULD_REJECT;
    bump(M_WOULD_REJECT);
  }
  store<u32>(s, flags, S_FLAGS);
  if (v.op >= 0) {
    const id = elementAt(elementAt(cfg.apis, v.api).operations!.ops, v.op).id;
    store<u8>(s, <u8>abLen(id), S_OP_LEN);
    copyShort(s + S_OP, ab(id), abLen(id));
  }
  store<u32>(s, v.units, S_UNITS);
  store<f64>(s, cfg.usage != null ? <f64>(now - now % 60) : -1, S_MINUTE);
  store<u8>(s, <u8>keyIdLen, S_KEY_LEN);
  copyShort(s + S_KEY, k.keyId, keyIdLen);
  store<u8>(s, <u8>abLen(api), S_API_LEN);
  copyShort(s + S_API, ab(api), abLen(api));
  writer.reset();
  hideCredentials(cfg, t, pathIdx, newPath);
  addIdentity(cfg, writer, k, v.plan);
  // A shadow limit would have rejected: the upstream is told which (in the same header write).
  if (shadow != null && abLen(cfg.shadowHeader) > 0) writer.add(ab(cfg.shadowHeader), abLen(cfg.shadowHeader), ab(shadow.id), abLen(shadow.id));
  forward(t);
  // Forwarded with the key (hideCredentials off): the host has its copy; ours must not outlive the request.
  if (!cfg.hideCredentials) zeroBytes(writer.ptr, writer.len);
}

/**
 * Applies verdict `v` to the request (header table `t`, its :path at `pathIdx`) of stream `ctx`, decided at `now`
 * (unix seconds; read only when a refusal is counted or a key checked). Returns the filter status.
 */
@inline export function apply(cfg: Config, v: Verdict, k: KeyRef, r: RequestFacts, t: PairTable, pathIdx: i32, ctx: u32, now: i64): u32 {
  if (v.kind == V_ALLOW) {
    allow(cfg, v, k, t, pathIdx, ctx, now);
    return FILTER_CONTINUE;
  }
  return applyOther(cfg, v, k, r, t, now);
}

/** Every verdict but allow: kept out of line, so the allowed path's code stays compact. */
function applyOther(cfg: Config, v: Verdict, k: KeyRef, r: RequestFacts, t: PairTable, now: i64): u32 {
  switch (v.kind) {
    case V_PASS:
    case V_PASS_UNMATCHED: {
      // Only a request that carried a forged identity header needs a rewrite (the scan marked them skipped).
      if (forgedCount() > 0) {
        writer.reset();
        forward(t);
      }
      return FILTER_CONTINUE;
    }
    case V_BAD_REQUEST: {
      // Not counted in usage: there is no API to count it under.
      bump(M_DENIED_FORBIDDEN);
      sendProblem(P_BAD_REQUEST, null);
      return FILTER_STOP;
    }
    case V_MISSING_KEY:
    case V_INVALID_KEY: {
      count(cfg, v, k, now);
      const kind = v.kind == V_MISSING_KEY ? P_MISSING_KEY : P_INVALID_KEY;
      sendProblemWith(kind, null, ab(H_WWW_AUTHENTICATE), abLen(H_WWW_AUTHENTICATE), ab(cfg.wwwAuthenticate), abLen(cfg.wwwAuthenticate));
      return FILTER_STOP;
    }
    case V_METHOD_NOT_ALLOWED: {
      count(cfg, v, k, now);
      // An unknown operation: the methods of the API's operations on this path; else those of the APIs on it.
      const n = v.opMiss ? operationMethods(elementAt(cfg.apis, v.api).operations!, r.path, r.pathLen)
        : allowedMethods(cfg.apis, r.host, r.hostLen, r.path, r.pathLen);
      sendProblemWith(P_METHOD_NOT_ALLOWED, null, ab(H_ALLOW), abLen(H_ALLOW), ALLOW_PTR, n);
      return FILTER_STOP;
    }
    case V_NOT_FOUND: {
      count(cfg, v, k, now);
      sendProblem(P_NOT_FOUND, null);
      return FILTER_STOP;
    }
    case V_QUOTA: {
      count(cfg, v, k, now);
      sendProblem(P_QUOTA, v.quota, cfg.headerStyle);
      return FILTER_STOP;
    }
    case V_FORBIDDEN:
    default: {
      // V_FORBIDDEN; a stage verdict never reaches here, but would be refused rather than forwarded.
      count(cfg, v, k, now);
      sendProblem(P_FORBIDDEN, null);
      return FILTER_STOP;
    }
  }
}
