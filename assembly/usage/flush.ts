// Flushing usage counters to the control service from the root context's tick (docs/usage-report.md).
// At most one batch exists at a time: it keeps its batch id until the service acknowledges it (2xx) or refuses it
// permanently (a 4xx saying the report itself is bad: dropped and counted); failures, resets, timeouts, 5xx and
// the 4xx that a later attempt can get past (see isPermanentRefusal) retry with
// exponential back-off. New requests keep counting into the (bounded) counter table meanwhile.
// Until the process is primed (quota/primed.ts) every batch is a sync report, sent even when empty and first at
// configure time without waiting for a tick; its successful answer primes the process.

import {
  proxy_get_buffer_bytes, proxy_get_header_map_value, proxy_http_call, random_get,
  BUFFER_HTTP_CALL_RESPONSE_BODY, MAP_HTTP_CALL_RESPONSE_HEADERS, RESULT_OK,
} from "../abi/imports";
import { clearRet, RET_LEN, RET_PTR } from "../abi/memory";
import { PairWriter } from "../abi/pairs";
import { ab, abLen, writeHex } from "../bytes";
import { UsageTarget } from "../config/model";
import { H_AUTHORITY, H_CONTENT_TYPE, H_METHOD, H_PATH, H_STATUS } from "../http/names";
import { parseStatus } from "../http/status";
import { bump, bumpBy, M_DROPPED, M_FLUSH_FAILED, M_FLUSH_OK } from "../metrics";
import { isPrimed, markPrimed } from "../quota/primed";
import { storeCreditSpend, storeOthers } from "../quota/shared";
import { ByteSink } from "../sink";
import { addDropped, clearCounters, counterCount, droppedCount, takeDropped } from "./counters";
import { lastReply, parseReply, REPLY_VERSION } from "./reply";
import { writeReport } from "./report";
import { statusOn } from "./status";

const MIN_BACKOFF_MS: f64 = 1000;
const MAX_BACKOFF_MS: f64 = 300000;
/**
 * At most this much of a reply body is read. A real reply (a fleet entry per key and window of the report) stays
 * far below it; a control service answering gigabytes must not make the host's copy fail to allocate (a trap).
 * A longer reply is parsed up to the cut: the entries before it are applied, the rest ignored.
 */
const MAX_REPLY_BYTES: u32 = 4 * 1024 * 1024;

const POST = String.UTF8.encode("POST");
const JSON_TYPE = String.UTF8.encode("application/json");

const body = new ByteSink();
const headers = new PairWriter();
const BATCH_HEX = memory.data(32);
const RANDOM = memory.data(16);
const TOKEN = memory.data(4);
const REPORTER_HEX = memory.data(16);

let hasBatch = false;
/** The batch is a sync report: a 2xx answer with the fleet applied primes the process. */
let batchSync = false;
let batchRequests: u64 = 0;
let batchDropped: u64 = 0;
let inflightToken: u32 = 0;
let inflight = false;
let inflightSinceMs: f64 = 0;
let nextAttemptMs: f64 = 0;
let backoffMs: f64 = 0;
let seq: u64 = 0;

/** The 16-hex-char reporter id shared by every VM of this Envoy (set once per VM at start). */
export function setReporter(hex16: usize): void {
  memory.copy(REPORTER_HEX, hex16, 16);
}

/** A new random batch id; falls back to a counter mixed into the last bytes if random_get fails. */
function newBatchId(): void {
  if (random_get(RANDOM, 16) != 0) {
    seq++;
    store<u64>(RANDOM, load<u64>(RANDOM) ^ (seq * 0x9e3779b97f4a7c15));
    store<u64>(RANDOM, load<u64>(RANDOM, 8) + seq, 8);
  }
  writeHex(BATCH_HEX, RANDOM, 16);
}

/** Called on every tick of the active root context. */
export function flushTick(target: UsageTarget, nowMs: f64): void {
  if (inflight) {
    // A call whose answer never comes (e.g. cancelled with the root context that owned it on reconfiguration)
    // must not stop reporting: after twice its timeout, give up on it and retry the batch (same id, so a late
    // arrival is not counted twice by the control service).
    if (nowMs - inflightSinceMs <= <f64>target.timeoutMs * 2 + 1000) return;
    inflight = false;
    retryLater(nowMs);
  }
  if (hasBatch) {
    if (nowMs < nextAttemptMs) return;
  } else {
    // Nothing counted and nothing dropped: no report, unless the process still needs its sync, or the configuration
    // is versioned (then an empty report is this worker's heartbeat for fleet status, once per tick: the tick runs
    // the flush once per interval). A drop alone (a refused batch, or the table full) is reported on its own, so the
    // loss is known even if no further request comes.
    const sync = !isPrimed();
    if (!sync && !statusOn() && counterCount() == 0 && droppedCount() == 0) return;
    newBatch(sync);
  }
  send(target, nowMs);
}

/**
 * Called at configure time: an unprimed process syncs at once instead of waiting for the first tick (its long
 * windows are restricted until then). A batch already in flight or waiting for its retry is left to the tick.
 */
export function flushAtConfigure(target: UsageTarget, nowMs: f64): void {
  if (inflight || hasBatch || isPrimed()) return;
  newBatch(true);
  send(target, nowMs);
}

/** Moves the counters into a new batch with a new id. */
function newBatch(sync: bool): void {
  newBatchId();
  batchDropped = takeDropped();
  batchRequests = writeReport(body, BATCH_HEX, REPORTER_HEX, batchDropped, sync);
  clearCounters();
  hasBatch = true;
  batchSync = sync;
  backoffMs = 0;
}

function send(target: UsageTarget, nowMs: f64): void {
  headers.reset();
  headers.add(ab(H_METHOD), abLen(H_METHOD), ab(POST), abLen(POST));
  headers.add(ab(H_PATH), abLen(H_PATH), ab(target.path), abLen(target.path));
  headers.add(ab(H_AUTHORITY), abLen(H_AUTHORITY), ab(target.authority), abLen(target.authority));
  headers.add(ab(H_CONTENT_TYPE), abLen(H_CONTENT_TYPE), ab(JSON_TYPE), abLen(JSON_TYPE));
  if (target.hasToken) {
    headers.add(ab(target.tokenHeader), abLen(target.tokenHeader), ab(target.token), abLen(target.token));
  }
  headers.finish();
  const r = proxy_http_call(
    changetype<usize>(target.cluster), <usize>target.cluster.byteLength, headers.ptr, headers.len,
    body.ptr, body.len, 0, 0, target.timeoutMs, TOKEN,
  );
  if (r == RESULT_OK) {
    inflight = true;
    inflightSinceMs = nowMs;
    inflightToken = load<u32>(TOKEN);
  } else {
    retryLater(nowMs);
  }
}

function retryLater(nowMs: f64): void {
  bump(M_FLUSH_FAILED);
  backoffMs = backoffMs == 0 ? MIN_BACKOFF_MS : Math.min(backoffMs * 2, MAX_BACKOFF_MS);
  nextAttemptMs = nowMs + backoffMs;
}

function applyFleet(sub: usize, subLen: usize, per: i32, windowStart: f64, others: u32, scope: usize, scopeLen: usize): bool {
  return storeOthers(sub, subLen, per, windowStart, others, scope, scopeLen);
}

/** Reads the :status of the http_call response (0 when absent or not three digits). */
function responseStatus(): i32 {
  clearRet();
  if (proxy_get_header_map_value(MAP_HTTP_CALL_RESPONSE_HEADERS, ab(H_STATUS), abLen(H_STATUS), RET_PTR, RET_LEN) != RESULT_OK) return 0;
  return <i32>parseStatus(<usize>load<u32>(RET_PTR), <usize>load<u32>(RET_LEN));
}

/**
 * Whether a status means retrying the same report can never succeed, so its counts are dropped (and counted as
 * dropped). Not 401/403/404: a wrong token or path is fixed by a reconfiguration (a report token rotation, say), and
 * the retry is sent with the configuration current then; dropping would lose the counts of every interval until
 * the fix. Not 408/429: the service asks to come back later.
 */
export function isPermanentRefusal(status: i32): bool {
  if (status < 400 || status >= 500) return false;
  return status != 401 && status != 403 && status != 404 && status != 408 && status != 429;
}

/** proxy_on_http_call_response for our token; returns false when the token is not ours. */
export function flushResponse(token: u32, numHeaders: u32, bodySize: u32, nowMs: f64): bool {
  if (!inflight || token != inflightToken) return false;
  inflight = false;
  const status = numHeaders == 0 ? 0 : responseStatus();
  if (status >= 200 && status < 300) {
    bump(M_FLUSH_OK);
    hasBatch = false;
    clearRet();
    const want = bodySize < MAX_REPLY_BYTES ? bodySize : MAX_REPLY_BYTES;
    if (want > 0 && proxy_get_buffer_bytes(BUFFER_HTTP_CALL_RESPONSE_BODY, 0, want, RET_PTR, RET_LEN) == RESULT_OK) {
      const n = parseReply(<usize>load<u32>(RET_PTR), <usize>load<u32>(RET_LEN), applyFleet, storeCreditSpend);
      // Primed only when the whole fleet picture is in: a well-formed version-2 answer to a sync report, every entry
      // stored. Otherwise the next batch is a sync report again.
      if (batchSync && n >= 0 && lastReply.version == REPLY_VERSION && lastReply.unstored == 0) markPrimed();
    }
  } else if (isPermanentRefusal(status)) {
    // Refused for good: retrying the same bytes cannot succeed. Count its requests as dropped.
    bump(M_FLUSH_FAILED);
    const lost = batchRequests + batchDropped;
    addDropped(lost);
    bumpBy(M_DROPPED, batchRequests);
    hasBatch = false;
  } else {
    retryLater(nowMs);
  }
  if (!hasBatch) body.reset();
  return true;
}
