// Local replies: a small application/problem+json body with a stable `type`, never echoing the key. A 401 carries
// WWW-Authenticate and a 405 carries Allow (the caller passes the value as the reply's one extra header).

import { proxy_send_local_response } from "../abi/imports";
import { PairWriter } from "../abi/pairs";
import { ab, abLen, writeU32 } from "../bytes";
import { Decision } from "../quota/entry";
import {
  H_CONTENT_TYPE, H_RATELIMIT_LIMIT, H_RATELIMIT_REMAINING, H_RATELIMIT_RESET, H_RETRY_AFTER,
} from "./names";

export const P_MISSING_KEY = 0;
export const P_INVALID_KEY = 1;
export const P_FORBIDDEN = 2;
export const P_QUOTA = 3;
export const P_BAD_REQUEST = 4;
export const P_METHOD_NOT_ALLOWED = 5;

function problemBody(type: string, title: string, status: i32): ArrayBuffer {
  return String.UTF8.encode("{\"type\":\"urn:tollgate:problem:" + type + "\",\"title\":\"" + title + "\",\"status\":" + status.toString() + "}");
}

// Built once at start (no imports needed), reused for every reply.
const BODIES: ArrayBuffer[] = [
  problemBody("missing-key", "API key required", 401),
  problemBody("invalid-key", "API key not valid", 401),
  problemBody("forbidden", "Not allowed for this API key", 403),
  problemBody("quota-exceeded", "Quota exceeded", 429),
  problemBody("bad-request", "Request headers could not be read, or the path is ambiguous", 400),
  problemBody("method-not-allowed", "Method not allowed for this API", 405),
];
const DETAILS: ArrayBuffer[] = [
  String.UTF8.encode("tollgate_missing_key"), String.UTF8.encode("tollgate_invalid_key"),
  String.UTF8.encode("tollgate_forbidden"), String.UTF8.encode("tollgate_quota_exceeded"),
  String.UTF8.encode("tollgate_bad_request"), String.UTF8.encode("tollgate_method_not_allowed"),
];
const STATUS: i32[] = [401, 401, 403, 429, 400, 405];

const PROBLEM_JSON = String.UTF8.encode("application/problem+json");

const NUMS = memory.data(96);
const writer = new PairWriter();

/** Stages the three RateLimit-* headers (numbers written at NUMS + base). */
export function addRateLimitHeaders(w: PairWriter, limit: u32, remaining: u32, reset: u32, base: usize): void {
  const a = NUMS + base;
  const la = writeU32(a, limit);
  const lb = writeU32(a + 12, remaining);
  const lc = writeU32(a + 24, reset);
  w.add(ab(H_RATELIMIT_LIMIT), abLen(H_RATELIMIT_LIMIT), a, la);
  w.add(ab(H_RATELIMIT_REMAINING), abLen(H_RATELIMIT_REMAINING), a + 12, lb);
  w.add(ab(H_RATELIMIT_RESET), abLen(H_RATELIMIT_RESET), a + 24, lc);
}

/** Sends the problem reply `kind`; `d` (quota replies only) supplies Retry-After and RateLimit-* values. */
export function sendProblem(kind: i32, d: Decision | null): void {
  sendProblemWith(kind, d, 0, 0, 0, 0);
}

/** sendProblem plus one header (name, value views; nameLen 0 = none): WWW-Authenticate on a 401, Allow on a 405. */
export function sendProblemWith(kind: i32, d: Decision | null, name: usize, nameLen: usize, value: usize, valueLen: usize): void {
  writer.reset();
  writer.add(ab(H_CONTENT_TYPE), abLen(H_CONTENT_TYPE), ab(PROBLEM_JSON), abLen(PROBLEM_JSON));
  if (nameLen > 0) writer.add(name, nameLen, value, valueLen);
  if (kind == P_QUOTA && d != null) {
    const ra = writeU32(NUMS + 48, d.hasLimit ? d.reset : 1);
    writer.add(ab(H_RETRY_AFTER), abLen(H_RETRY_AFTER), NUMS + 48, ra);
    if (d.hasLimit) addRateLimitHeaders(writer, d.limit, d.remaining, d.reset, 0);
  }
  writer.finish();
  const body = unchecked(BODIES[kind]);
  const details = unchecked(DETAILS[kind]);
  proxy_send_local_response(<u32>unchecked(STATUS[kind]), ab(details), abLen(details), ab(body), abLen(body), writer.ptr, writer.len, -1);
}
