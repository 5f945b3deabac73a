// Envoy metrics. The hot path only bumps VM-local deltas; the tick pushes them with proxy_increment_metric, so a
// request costs no metric host call. Metric ids are defined once per root context (they are per VM in Envoy).

import { proxy_define_metric, proxy_increment_metric, proxy_record_metric } from "./abi/imports";

export const M_ALLOWED = 0;
export const M_DENIED_AUTH = 1;
export const M_DENIED_FORBIDDEN = 2;
export const M_DENIED_QUOTA = 3;
export const M_FLUSH_OK = 4;
export const M_FLUSH_FAILED = 5;
export const M_DROPPED = 6;
export const M_FEED_FAILED = 7;
/** Admitted requests a shadow limit would have rejected (docs/filter-config.md "Limits that compose"). */
export const M_WOULD_REJECT = 8;
const COUNT = 9;

const NAMES: string[] = [
  "tollgate_allowed", "tollgate_denied_auth", "tollgate_denied_forbidden", "tollgate_denied_quota",
  "tollgate_flush_ok", "tollgate_flush_failed", "tollgate_usage_dropped", "tollgate_keyfeed_sync_failures",
  "tollgate_would_reject",
];
/** Gauges, recorded by the VM that syncs the key feed (process-wide stats: any VM may set them). */
const GAUGES: string[] = ["tollgate_keyfeed_revision", "tollgate_keyfeed_keys"];
const gaugeIds = new StaticArray<u32>(2);
let gaugesDefined = false;

const deltas = new StaticArray<u64>(COUNT);
/** What pushMetrics has handed Envoy so far: with the deltas not pushed yet, the count since the VM started. */
const pushed = new StaticArray<u64>(COUNT);
const ids = new StaticArray<u32>(COUNT);
let defined = false;
const RET_ID = memory.data(4);

@inline export function bump(m: i32): void {
  // A plain load and store: `unchecked(deltas[m] += 1)` compiles to a call in this build.
  const p = changetype<usize>(deltas) + (<usize>m << 3);
  store<u64>(p, load<u64>(p) + 1);
}

export function bumpBy(m: i32, n: u64): void {
  if (m >= 0 && m < COUNT) unchecked(deltas[m] += n);
}

/** Defines the counters (called from each new root context's on_vm_start/on_configure). */
export function defineMetrics(): void {
  for (let i = 0; i < COUNT; i++) {
    const buf = String.UTF8.encode(unchecked(NAMES[i]));
    if (proxy_define_metric(0, changetype<usize>(buf), <usize>buf.byteLength, RET_ID) == 0) {
      unchecked(ids[i] = load<u32>(RET_ID));
    }
  }
  defined = true;
  for (let i = 0; i < GAUGES.length; i++) {
    const buf = String.UTF8.encode(unchecked(GAUGES[i]));
    if (proxy_define_metric(1, changetype<usize>(buf), <usize>buf.byteLength, RET_ID) == 0) {
      unchecked(gaugeIds[i] = load<u32>(RET_ID));
      gaugesDefined = true;
    }
  }
}

/** Sets the key feed's gauges (revision of the set served, keys in it). */
export function setFeedGauges(revision: f64, keys: u32): void {
  if (!gaugesDefined) return;
  proxy_record_metric(unchecked(gaugeIds[0]), <u64>revision);
  proxy_record_metric(unchecked(gaugeIds[1]), <u64>keys);
}

/** Pushes local deltas to Envoy (on tick). */
export function pushMetrics(): void {
  if (!defined) return;
  for (let i = 0; i < COUNT; i++) {
    const d = unchecked(deltas[i]);
    if (d == 0) continue;
    if (proxy_increment_metric(unchecked(ids[i]), <i64>d) == 0) {
      unchecked(pushed[i] += d);
      unchecked(deltas[i] = 0);
    }
  }
}

/** A counter's value since this VM started (usage reports' proxy status). */
export function metricTotal(m: i32): u64 {
  return unchecked(pushed[m]) + unchecked(deltas[m]);
}
