// Root context: configuration, the reporter id, the tick (metrics + usage flush) and http_call responses.
// The compiled configuration and all counters are module globals: a new root context (reconfiguration in the
// same VM) replaces the configuration and keeps every count.

import {
  proxy_get_buffer_bytes, proxy_get_current_time_nanoseconds, proxy_get_shared_data, proxy_log,
  proxy_set_shared_data, proxy_set_tick_period_milliseconds, random_get,
  BUFFER_PLUGIN_CONFIGURATION, LOG_INFO, LOG_WARN, RESULT_OK,
} from "./abi/imports";
import { RET_CAS, clearRet, RET_LEN, RET_PTR, RET_U64 } from "./abi/memory";
import { decimal, writeHex } from "./bytes";
import { decodeConfig } from "./config/decode";
import { Config } from "./config/model";
import { feedConfigured, feedDueMs, feedJitter, feedResponse, feedTick, setFeedReporter } from "./keyfeed/sync";
import { defineMetrics, pushMetrics } from "./metrics";
import { setColdStartShare } from "./quota/primed";
import { INSERT_CAS, setQuotaPlans } from "./quota/shared";
import { setMaxEntries } from "./usage/counters";
import { flushAtConfigure, flushResponse, flushTick, setReporter } from "./usage/flush";
import { setConfigVersion } from "./usage/status";

/** Counters held per VM are capped so one report stays under the control service's 4 MiB body limit. */
const MAX_ENTRIES_PER_BATCH = 16384;
/**
 * With operations an entry can carry `operationId` and `wouldReject` (longest entry 326 → 432 bytes): the cap shrinks
 * by that ratio, so a report's worst-case size stays what it was.
 */
const MAX_ENTRIES_PER_BATCH_OPS = 12288;
const METRICS_TICK_MS: u32 = 5000;

export let config: Config | null = null;
let activeRoot: u32 = 0;
let reporterReady = false;

// The tick is re-armed for whichever comes first: the slow work (metrics push, usage flush: every `periodMs`, by
// time, so a faster tick never flushes more often) or the key feed's next attempt (a retry after retryMs, not after
// the next usage interval). Envoy has one timer per root context and re-arms it with the period after each tick.
let periodMs: f64 = 0;
let slowDueMs: f64 = 0;
let armedMs: f64 = 0;
let nextTickMs: f64 = 0;
/** The first sync goes out within this much of configure (jittered), not a whole usage interval later. */
const FIRST_SYNC_MS: f64 = 250;

function armTick(delayMs: f64, nowMs: f64, inTick: bool): void {
  let d = Math.ceil(delayMs);
  if (d < 1) d = 1;
  if (d > periodMs) d = periodMs;
  nextTickMs = nowMs + d;
  if (d == armedMs && inTick) return;
  // Envoy's Wasm::setTickPeriod (source/extensions/common/wasm/wasm.cc) disables a running timer and arms a new one
  // from now on every call; older releases kept a running timer's deadline until it fired. Setting 0 first re-arms
  // from now under both, inside a tick or not.
  proxy_set_tick_period_milliseconds(0);
  proxy_set_tick_period_milliseconds(<u32>d);
  armedMs = d;
}

export function log(level: u32, message: string): void {
  const b = String.UTF8.encode(message);
  proxy_log(level, changetype<usize>(b), <usize>b.byteLength);
}

function nowMs(): f64 {
  if (proxy_get_current_time_nanoseconds(RET_U64) != RESULT_OK) return 0;
  return <f64>(load<u64>(RET_U64) / 1000000);
}

const REPORTER_KEY = String.UTF8.encode("tg:reporter");
const RANDOM = memory.data(8);
const HEX = memory.data(16);

function isHex16(p: usize, n: usize): bool {
  if (n != 16) return false;
  for (let i: usize = 0; i < 16; i++) {
    const c = <u32>load<u8>(p + i);
    if (!(c - 0x30 < 10 || c - 0x61 < 6)) return false;
  }
  return true;
}

/** Reporter id: created once per Envoy process by CAS insert-if-absent, so every VM ends up with the same one. */
function ensureReporter(): void {
  if (reporterReady) return;
  const k = changetype<usize>(REPORTER_KEY), kl = <usize>REPORTER_KEY.byteLength;
  for (let attempt = 0; attempt < 4; attempt++) {
    let cas = INSERT_CAS;
    clearRet();
    const r = proxy_get_shared_data(k, kl, RET_PTR, RET_LEN, RET_CAS);
    if (r == RESULT_OK) {
      const p = <usize>load<u32>(RET_PTR), n = <usize>load<u32>(RET_LEN);
      if (isHex16(p, n)) {
        setReporter(p);
        setFeedReporter(p);
        reporterReady = true;
        return;
      }
      cas = load<u32>(RET_CAS);
    }
    if (random_get(RANDOM, 8) != 0) store<u64>(RANDOM, <u64>nowMs() ^ 0x5deece66d);
    writeHex(HEX, RANDOM, 8);
    if (proxy_set_shared_data(k, kl, HEX, 16, cas) == RESULT_OK) {
      setReporter(HEX);
      setFeedReporter(HEX);
      reporterReady = true;
      return;
    }
  }
  // Shared data unusable: a VM-local id still identifies this VM's reports consistently.
  setReporter(HEX);
  setFeedReporter(HEX);
  reporterReady = true;
}

export function onVmStart(_root: u32): bool {
  ensureReporter();
  return true;
}

export function onConfigure(root: u32, size: u32): bool {
  let ptr: usize = 0, len: usize = 0;
  clearRet();
  if (size > 0 && proxy_get_buffer_bytes(BUFFER_PLUGIN_CONFIGURATION, 0, size, RET_PTR, RET_LEN) == RESULT_OK) {
    ptr = <usize>load<u32>(RET_PTR);
    len = <usize>load<u32>(RET_LEN);
  }
  const r = decodeConfig(ptr, len);
  const cfg = r.config;
  if (cfg == null) {
    log(LOG_WARN, "tollgate: configuration rejected: " + r.error);
    return false;
  }
  ensureReporter();
  config = cfg;
  setConfigVersion(cfg.configVersion);
  setQuotaPlans(cfg.plans);
  activeRoot = root;
  feedConfigured();
  defineMetrics();
  const usage = cfg.usage;
  if (usage != null) {
    let anyOps = false;
    for (let i = 0; i < cfg.apis.length; i++) if (unchecked(cfg.apis[i]).operations != null) anyOps = true;
    const cap = anyOps ? MAX_ENTRIES_PER_BATCH_OPS : MAX_ENTRIES_PER_BATCH;
    setMaxEntries(usage.maxEntries < cap ? usage.maxEntries : cap);
  }
  // Without a control service there are no fleet counts to wait for: no cold-start restriction. With the key feed,
  // the snapshot's fleet counts prime the process, so no share applies either (docs/filter.md, "Cold start").
  setColdStartShare(usage != null && cfg.keyFeed == null ? usage.coldStartShare : 1);
  const now = nowMs();
  periodMs = <f64>(usage != null ? usage.intervalMs : METRICS_TICK_MS);
  slowDueMs = now + periodMs;
  // A new root context's timer is not running yet: 0 makes armTick set it even when the period is unchanged.
  armedMs = 0;
  // The feed's first sync needs a tick (the canary VM runs onConfigure but never ticks, so it must not take the
  // lease here); a short, jittered first tick starts it promptly without every proxy of a fleet calling at once.
  armTick(usage != null && cfg.keyFeed != null ? 1 + feedJitter(FIRST_SYNC_MS) : periodMs, now, false);
  // A process that has not synced yet (just started) asks for the fleet's counts now, not at the first tick.
  if (usage != null) flushAtConfigure(usage, now);
  log(LOG_INFO, "tollgate: configuration applied: " + decimal(cfg.apis.length) + " APIs, " +
    decimal(cfg.plans.length) + " plans, " + decimal(cfg.keys.count) + " static keys" +
    (cfg.keyFeed != null ? ", key feed on" : ""));
  return true;
}

export function onTick(root: u32): void {
  // A replaced root context may still tick until Envoy deletes it; only the active one reports.
  if (root != activeRoot) return;
  const now = nowMs();
  const cfg = config;
  const usage = cfg != null ? cfg.usage : null;
  // A tick a millisecond early by the wall clock (timers run on another clock) leaves the slow work to the next one;
  // a due time further away than one period means the wall clock went back: due now, or it would wait that long.
  const slow = now >= slowDueMs || slowDueMs - now > periodMs;
  if (slow) {
    slowDueMs = now + periodMs;
    pushMetrics();
    if (usage != null) flushTick(usage, now);
  }
  const feed = cfg != null ? cfg.keyFeed : null;
  if (usage != null && feed != null) feedTick(usage, feed, now, periodMs * 3);
  armTick(Math.min(slowDueMs, feedDueMs()) - now, now, true);
}

export function onHttpCallResponse(root: u32, token: u32, numHeaders: u32, bodySize: u32): void {
  if (flushResponse(token, numHeaders, bodySize, nowMs())) return;
  const cfg = config;
  const now = nowMs();
  if (!feedResponse(cfg != null ? cfg.usage : null, cfg != null ? cfg.keyFeed : null, token, numHeaders, bodySize, now)) return;
  // A failed call (or a waitS 0 poll) wants its next attempt sooner than the armed tick: bring the tick forward.
  const due = feedDueMs();
  if (root == activeRoot && due < nextTickMs) armTick(due - now, now, false);
}
