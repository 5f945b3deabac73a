// Local replies: a small application/problem+json body with a stable `type`, never echoing the key. A 401 carries
// WWW-Authenticate and a 405 carries Allow (the caller passes the value as the reply's one extra header).

import { proxy_send_local_response } from "../abi/imports";
import { PairWriter } from "../abi/pairs";
import { ab, abLen, copyShort, decimal, writeU32 } from "../bytes";
import { MAX_LIMIT_ID, STYLE_IETF, STYLE_LEGACY } from "../config/model";
import { Decision } from "../quota/entry";
import {
  H_CONTENT_TYPE, H_RATELIMIT, H_RATELIMIT_LIMIT, H_RATELIMIT_POLICY, H_RATELIMIT_REMAINING, H_RATELIMIT_RESET,
  H_RETRY_AFTER,
} from "./names";

export const P_MISSING_KEY = 0;
export const P_INVALID_KEY = 1;
export const P_FORBIDDEN = 2;
export const P_QUOTA = 3;
export const P_BAD_REQUEST = 4;
export const P_METHOD_NOT_ALLOWED = 5;
export const P_NOT_FOUND = 6;

function problemBody(type: string, title: string, status: i32): ArrayBuffer {
  return String.UTF8.encode("{\"type\":\"urn:tollgate:problem:" + type + "\",\"title\":\"" + title + "\",\"status\":" + decimal(status) + "}");
}

// Built once at start (no imports needed), reused for every reply.
const BODIES: ArrayBuffer[] = [
  problemBody("missing-key", "API key required", 401),
  problemBody("invalid-key", "API key not valid", 401),
  problemBody("forbidden", "Not allowed for this API key", 403),
  problemBody("quota-exceeded", "Quota exceeded", 429),
  problemBody("bad-request", "Request headers could not be read, or the path is ambiguous", 400),
  problemBody("method-not-allowed", "Method not allowed for this API", 405),
  problemBody("not-found", "No such operation in this API", 404),
];
const DETAILS: ArrayBuffer[] = [
  String.UTF8.encode("tollgate_missing_key"), String.UTF8.encode("tollgate_invalid_key"),
  String.UTF8.encode("tollgate_forbidden"), String.UTF8.encode("tollgate_quota_exceeded"),
  String.UTF8.encode("tollgate_bad_request"), String.UTF8.encode("tollgate_method_not_allowed"),
  String.UTF8.encode("tollgate_not_found"),
];
const STATUS: i32[] = [401, 401, 403, 429, 400, 405, 404];

const PROBLEM_JSON = String.UTF8.encode("application/problem+json");

// Decimal text of the numbers sent in headers: RateLimit-Limit, -Remaining, -Reset at 0, 12, 24; Retry-After at 48.
const NUMS = memory.data(64);
const writer = new PairWriter();
// The RateLimit-* values last written at NUMS and their lengths: a plan's limit and a window's reset repeat from one
// response to the next, so most of the time only the remaining count is formatted again.
const LAST = memory.data<u64>([u64.MAX_VALUE, u64.MAX_VALUE, u64.MAX_VALUE]);

/** The text of `v` at NUMS + slot × 12 (slot 0 … 2); returns its length. */
@inline function number(slot: usize, v: u32): usize {
  const last = LAST + (slot << 3);
  const known = load<u64>(last);
  if (<u32>known == v && (known >>> 32) != 0xffffffff) return <usize>(known >>> 32);
  const n = writeU32(NUMS + slot * 12, v);
  store<u64>(last, (<u64>n << 32) | <u64>v);
  return n;
}

/** Stages the three RateLimit-* headers. */
export function addRateLimitHeaders(w: PairWriter, limit: u32, remaining: u32, reset: u32): void {
  const la = number(0, limit);
  const lb = number(1, remaining);
  const lc = number(2, reset);
  w.add(ab(H_RATELIMIT_LIMIT), abLen(H_RATELIMIT_LIMIT), NUMS, la);
  w.add(ab(H_RATELIMIT_REMAINING), abLen(H_RATELIMIT_REMAINING), NUMS + 12, lb);
  // reset 0: nothing resets (a credit balance that never refills).
  if (reset != 0) w.add(ab(H_RATELIMIT_RESET), abLen(H_RATELIMIT_RESET), NUMS + 24, lc);
}

// The IETF fields' values (draft-ietf-httpapi-ratelimit-headers-09: structured-field lists of one item named by the
// limit id): `"<id>";q=<quota>;w=<window s>` and `"<id>";r=<remaining>;t=<s to reset>`.
const POLICY = memory.data(<i32>MAX_LIMIT_ID + 32);
const STATE = memory.data(<i32>MAX_LIMIT_ID + 32);

/** Writes `"<id>";<a>=<x>;<b>=<y>` at `out`; returns its length. Ids are [A-Za-z0-9._:/-]: no escaping needed. */
function sfItem(out: usize, id: usize, idLen: usize, a: u8, x: u32, b: u8, y: u32): usize {
  store<u8>(out, 0x22);
  copyShort(out + 1, id, idLen);
  let n = idLen + 1;
  store<u8>(out + n, 0x22); store<u8>(out + n + 1, 0x3b); store<u8>(out + n + 2, a); store<u8>(out + n + 3, 0x3d);
  n += 4;
  n += writeU32(out + n, x);
  // y 0: the field has no such parameter (a credit balance that never refills has no `w` and no `t`).
  if (y == 0) return n;
  store<u8>(out + n, 0x3b); store<u8>(out + n + 1, b); store<u8>(out + n + 2, 0x3d);
  n += 3;
  n += writeU32(out + n, y);
  return n;
}

/** Stages RateLimit-Policy and RateLimit for the limit `id` (≤ MAX_LIMIT_ID bytes). */
export function addIetfHeaders(w: PairWriter, id: usize, idLen: usize, limit: u32, window: u32, remaining: u32, reset: u32): void {
  if (idLen > MAX_LIMIT_ID) idLen = MAX_LIMIT_ID;
  const pn = sfItem(POLICY, id, idLen, 0x71, limit, 0x77, window);  // q, w
  const sn = sfItem(STATE, id, idLen, 0x72, remaining, 0x74, reset); // r, t
  w.add(ab(H_RATELIMIT_POLICY), abLen(H_RATELIMIT_POLICY), POLICY, pn);
  w.add(ab(H_RATELIMIT), abLen(H_RATELIMIT), STATE, sn);
}

/** Stages the RateLimit headers of decision `d` (hasLimit) in `style` (STYLE_* bits). */
export function addDecisionHeaders(w: PairWriter, d: Decision, style: u32): void {
  if ((style & STYLE_LEGACY) != 0) addRateLimitHeaders(w, d.limit, d.remaining, d.reset);
  const l = d.which;
  if ((style & STYLE_IETF) != 0 && l != null) addIetfHeaders(w, ab(l.id), abLen(l.id), d.limit, d.window, d.remaining, d.reset);
}

// A 429 naming its limit: the quota body without its closing brace, then `,"limit":"<id>"}`.
const QUOTA_BODY = memory.data(<i32>MAX_LIMIT_ID + 160);
const LIMIT_MEMBER = String.UTF8.encode(",\"limit\":\"");

/** Sends the problem reply `kind`; `d` (quota replies only) supplies Retry-After and RateLimit values (in `style`). */
export function sendProblem(kind: i32, d: Decision | null, style: u32 = STYLE_LEGACY): void {
  sendProblemWith(kind, d, 0, 0, 0, 0, style);
}

/** sendProblem plus one header (name, value views; nameLen 0 = none): WWW-Authenticate on a 401, Allow on a 405. */
export function sendProblemWith(kind: i32, d: Decision | null, name: usize, nameLen: usize, value: usize, valueLen: usize, style: u32 = STYLE_LEGACY): void {
  writer.reset();
  writer.add(ab(H_CONTENT_TYPE), abLen(H_CONTENT_TYPE), ab(PROBLEM_JSON), abLen(PROBLEM_JSON));
  if (nameLen > 0) writer.add(name, nameLen, value, valueLen);
  const body = unchecked(BODIES[kind]);
  let bodyPtr = ab(body), bodyLen = abLen(body);
  if (kind == P_QUOTA && d != null) {
    // No Retry-After when nothing resets (an exhausted balance that never refills: waiting does not help).
    const retry = d.hasLimit ? d.reset : 1;
    const ra = writeU32(NUMS + 48, retry);
    if (retry != 0) writer.add(ab(H_RETRY_AFTER), abLen(H_RETRY_AFTER), NUMS + 48, ra);
    if (d.hasLimit) addDecisionHeaders(writer, d, style);
    const l = d.which;
    if (d.hasLimit && l != null) {
      // The body names the denying limit (a contended 429 has none).
      let n = bodyLen - 1;
      memory.copy(QUOTA_BODY, bodyPtr, n);
      memory.copy(QUOTA_BODY + n, ab(LIMIT_MEMBER), abLen(LIMIT_MEMBER));
      n += abLen(LIMIT_MEMBER);
      const idLen = min(abLen(l.id), MAX_LIMIT_ID);
      memory.copy(QUOTA_BODY + n, ab(l.id), idLen);
      n += idLen;
      store<u16>(QUOTA_BODY + n, 0x7d22); // "}
      bodyPtr = QUOTA_BODY;
      bodyLen = n + 2;
    }
  }
  writer.finish();
  const details = unchecked(DETAILS[kind]);
  proxy_send_local_response(<u32>unchecked(STATUS[kind]), ab(details), abLen(details), bodyPtr, bodyLen, writer.ptr, writer.len, -1);
}
