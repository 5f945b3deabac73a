// What happens to a request, decided from data alone: no host calls, no memory writes but the verdict, so every
// branch is unit-tested without a host (tests/assembly/decision.spec.ts). The request path (request.ts) reads the
// facts, asks here, and hands the verdict to effects.ts.
//
// The decision runs in three stages, because the facts of a later stage cost host calls or hashing that an earlier
// verdict makes unnecessary: route (target form, host, path, method → pass, 400, 403 or "check the key"; for an API
// with operations also which operation, and so the request's units), authorize (credential found, digest lookup,
// clock, plan → 401, 403, then 404/405 for an unknown operation, or "check the quota") and admit (the
// quota decision of quota/shared.ts → 429 or allow). The order of the checks is docs/filter.md's "Hot path".

import { Config } from "../config/model";
import { elementAt } from "../element";
import { hostRestrictedPrefix, matchApi, matchPathHost } from "../match";
import { Decision } from "../quota/entry";
import { CRED_FOUND, CRED_NONE } from "./credentials";
import { formPasses, FORM_ORIGIN } from "./form";
import { KeyRef } from "./keyref";

/** Forward untouched: a request-target form the operator passes (passPathForms). Forged identity still removed. */
export const V_PASS = 0;
/** Forward untouched: no API on this path and host. Forged identity still removed. */
export const V_PASS_UNMATCHED = 1;
/** 400: unreadable headers, a target form or path that cannot be matched safely, or no host where one decides. */
export const V_BAD_REQUEST = 2;
export const V_MISSING_KEY = 3;
export const V_INVALID_KEY = 4;
/** 403: the plan lacks the API, or (denyUnmatched) no API matches. */
export const V_FORBIDDEN = 5;
/** 405: a valid key on a protected path whose APIs do not list the method (Allow lists those that do). */
export const V_METHOD_NOT_ALLOWED = 6;
export const V_QUOTA = 7;
/** Forward with identity headers, the credential hidden. */
export const V_ALLOW = 8;
/** route() → the API is protected: authorize() needs the credential, its digest lookup and the clock. */
export const V_CHECK_KEY = 9;
/** authorize() → the key may use the API: admit() needs the quota decision. */
export const V_CHECK_QUOTA = 10;
/** 404: a valid key, an API with operations (unknownOperation "reject"), and no operation's template matches the path. */
export const V_NOT_FOUND = 11;

/** What the request carries, as the decision needs it (views into the request; read by request.ts). */
export class RequestFacts {
  /** False when the header block could not be decoded. */
  headersOk: bool = true;
  /** http/form.ts FORM_*. */
  form: i32 = FORM_ORIGIN;
  method: usize = 0;
  methodLen: usize = 0;
  /** The normalized host (match.ts normalizeAuthority); length 0 = no usable host (or none needed). */
  host: usize = 0;
  hostLen: usize = 0;
  /** The path as matched (before '?', normalized by http/path.ts); only meaningful when pathOk. */
  path: usize = 0;
  pathLen: usize = 0;
  /** False when the path has a dot segment. */
  pathOk: bool = true;
}

/** The decision, with what the effects need. */
export class Verdict {
  kind: i32 = V_PASS;
  /** The API matched with the method, or -1 (none, or the method is not listed). */
  api: i32 = -1;
  /** The API whose key rules apply: the match, or the first API on this path and host when the method is not listed. */
  guard: i32 = -1;
  /** Whether a rejection is counted in usage (every refusal but a 400, which has no API to count under). */
  counted: bool = false;
  /** The API a rejection is counted under, -1 for none (denyUnmatched's 403 is counted with an empty API id). */
  countApi: i32 = -1;
  /** 0 once the key is known to be one (its fields are in the request's KeyRef); -1 before, and for unknown digests. */
  key: i32 = -1;
  plan: i32 = -1;
  /** For 429 and allow: the quota decision (Retry-After, RateLimit-*). */
  quota: Decision | null = null;
  /** The operation of `api` the request matched (its index in the API's operations), -1 for none. */
  op: i32 = -1;
  /** The units the request spends against every limit: its operation's cost, 1 without one. */
  units: u32 = 1;
  /** The API has operations, none matches, and unknownOperation is "reject": 404 or 405 once the key is checked. */
  opMiss: bool = false;

  reset(): void {
    this.kind = V_PASS;
    this.api = -1;
    this.guard = -1;
    this.counted = false;
    this.countApi = -1;
    this.key = -1;
    this.plan = -1;
    this.quota = null;
    this.op = -1;
    this.units = 1;
    this.opMiss = false;
  }
}

/** The decision after every CAS attempt lost a race: 429 with Retry-After 1 and no RateLimit-* (docs/filter.md). */
export const CONTENDED = new Decision();
CONTENDED.admitted = false;
CONTENDED.hasLimit = false;
/** The decision for a request that costs 0 units: admitted without reading the quota entry (no RateLimit-*). */
export const FREE = new Decision();
FREE.admitted = true;
FREE.hasLimit = false;

@inline function refuse(v: Verdict, kind: i32, countApi: i32): void {
  v.kind = kind;
  v.counted = true;
  v.countApi = countApi;
}

/** Stage 1: target form, host and path → V_PASS, V_PASS_UNMATCHED, V_BAD_REQUEST, V_FORBIDDEN or V_CHECK_KEY. */
@inline export function route(cfg: Config, r: RequestFacts, v: Verdict): void {
  v.reset();
  // Fail closed: headers that cannot be read must not make the request look unmatched.
  if (!r.headersOk) { v.kind = V_BAD_REQUEST; return; }
  // Only an origin-form :path can be matched; any other form would look unmatched and pass without a key.
  if (r.form != FORM_ORIGIN) {
    v.kind = formPasses(r.form, cfg.passPathForms) ? V_PASS : V_BAD_REQUEST;
    return;
  }
  // A dot segment could be matched as one API and served as another.
  if (!r.pathOk) { v.kind = V_BAD_REQUEST; return; }
  // Without a host, a host-restricted API cannot be told apart from another route on the same path.
  if (r.hostLen == 0 && cfg.hostMatters && hostRestrictedPrefix(cfg.apis, r.path, r.pathLen)) {
    v.kind = V_BAD_REQUEST;
    return;
  }
  const api = matchApi(cfg.apis, r.method, r.methodLen, r.host, r.hostLen, r.path, r.pathLen);
  let guard = api;
  if (api < 0) {
    // A protected path whose APIs do not list this method still needs the key (then 403 or 405).
    guard = matchPathHost(cfg.apis, r.host, r.hostLen, r.path, r.pathLen, 0);
    if (guard < 0) {
      if (cfg.denyUnmatched) refuse(v, V_FORBIDDEN, -1);
      else v.kind = V_PASS_UNMATCHED;
      return;
    }
  }
  v.kind = V_CHECK_KEY;
  v.api = api;
  v.guard = guard;
  if (api >= 0) {
    const a = elementAt(cfg.apis, api);
    const ops = a.operations;
    if (ops != null) {
      // methodLen 0 would mean "any method" to the matcher: a request without :method matches no operation.
      const k = r.methodLen > 0 ? ops.match(r.path, r.pathLen, r.method, r.methodLen) : -1;
      if (k >= 0) {
        v.op = k;
        v.units = elementAt(ops.ops, k).cost;
      } else if (!a.unknownPass) v.opMiss = true;
    }
  }
}

/**
 * Stage 2, after V_CHECK_KEY: `credential` is credentials.ts's CRED_*, `key` the key with the credential's digest
 * (plan -1: none), `now` unix seconds → V_MISSING_KEY, V_INVALID_KEY, V_FORBIDDEN, V_METHOD_NOT_ALLOWED, V_NOT_FOUND
 * or V_CHECK_QUOTA.
 */
@inline export function authorize(cfg: Config, r: RequestFacts, credential: i32, key: KeyRef, now: i64, v: Verdict): void {
  if (credential == CRED_NONE) { refuse(v, V_MISSING_KEY, v.guard); return; }
  const planIdx = key.plan;
  if (credential != CRED_FOUND || planIdx < 0 || planIdx >= cfg.plans.length) { refuse(v, V_INVALID_KEY, v.guard); return; }
  const expires = key.expiresAt;
  const notBefore = key.notBefore;
  v.key = 0;
  if ((expires > 0 && <f64>now >= expires) || (notBefore > 0 && <f64>now < notBefore)) {
    refuse(v, V_INVALID_KEY, v.guard);
    return;
  }
  const plan = elementAt(cfg.plans, planIdx);
  v.plan = planIdx;
  if (v.api < 0) {
    // The method is not listed: 403 if the plan includes none of the APIs on this path and host, else 405 counted
    // under the first it includes.
    let j = v.guard;
    while (j >= 0 && !plan.allowsApi(j)) j = matchPathHost(cfg.apis, r.host, r.hostLen, r.path, r.pathLen, j + 1);
    if (j < 0) refuse(v, V_FORBIDDEN, v.guard);
    else refuse(v, V_METHOD_NOT_ALLOWED, j);
    return;
  }
  if (!plan.allowsApi(v.api)) { refuse(v, V_FORBIDDEN, v.api); return; }
  if (v.opMiss) {
    // Only now, after 401 and 403: a caller without a usable key learns nothing of the API's operations.
    const ops = elementAt(cfg.apis, v.api).operations!;
    refuse(v, ops.match(r.path, r.pathLen, 0, 0) >= 0 ? V_METHOD_NOT_ALLOWED : V_NOT_FOUND, v.api);
    return;
  }
  v.kind = V_CHECK_QUOTA;
}

/** Stage 3, after V_CHECK_QUOTA: the quota decision `d` (or `contended`: every CAS attempt lost) → V_QUOTA or V_ALLOW. */
@inline export function admit(d: Decision, contended: bool, v: Verdict): void {
  if (contended) {
    refuse(v, V_QUOTA, v.api);
    v.quota = CONTENDED;
  } else if (!d.admitted) {
    refuse(v, V_QUOTA, v.api);
    v.quota = d;
  } else {
    v.kind = V_ALLOW;
    v.quota = d;
  }
}
