// VM-local usage counters per (minute, key id, API id, outcome), plus upstream status classes and units (the
// operations' costs, docs/filter-config.md "Operations") for allowed requests. They live in module globals, not in a root context, so a reconfiguration (new root context, same VM)
// loses nothing. Bounded by usage.maxEntries: requests that would need a new counter past the cap are counted
// in `dropped` and reported as such.

import { sameBytes } from "../bytes";
import { HashIndex } from "../hashindex";
import { bump as bumpMetric, M_DROPPED } from "../metrics";

/** What happened to a counted request (a counter's `outcome`). */
export const OUTCOME_ALLOWED: u32 = 0;
export const OUTCOME_REJECTED_QUOTA: u32 = 1;
export const OUTCOME_REJECTED_AUTH: u32 = 2;
export const OUTCOME_REJECTED_FORBIDDEN: u32 = 3;

const REC: usize = 248;
const C_MINUTE = 0;   // f64
const C_COUNT = 8;    // u32
const C_STATUS = 12;  // 5 × u32 (1xx … 5xx)
const C_OUTCOME = 32; // u8
const C_KEY_LEN = 33; // u8
const C_API_LEN = 34; // u8
const C_KEY = 36;     // 64 bytes
const C_API = 100;    // 64 bytes
const C_HASH = 164;   // u32
const C_UNITS = 168;  // u32 units spent (allowed requests)
const C_WOULD = 172;  // u32 of `count`, the requests a shadow limit would have rejected (allowed requests)
const C_OP_LEN = 176; // u8 operation id length (0: none)
const C_OP = 180;     // 64 bytes operation id (APIs with operations)

let slab: usize = 0;
let recCap: i32 = 0;
let used: i32 = 0;
/** Counter hash (C_HASH) → record. */
const index = new HashIndex();

/** Requests not held in any counter since the last acknowledged report. */
export let dropped: u64 = 0;
export let maxEntries: i32 = 10000;

export function setMaxEntries(n: i32): void { maxEntries = n; }
export function addDropped(n: u64): void { dropped += n; }
export function droppedCount(): u64 { return dropped; }
export function takeDropped(): u64 { const d = dropped; dropped = 0; return d; }
export function counterCount(): i32 { return used; }

/** Mixes n bytes at p into h, four at a time (the ids are 10–64 bytes: a byte loop was a third of a count). */
@inline function mix(h: u32, p: usize, n: usize): u32 {
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) h = (h ^ load<u32>(p + i)) * 16777619;
  for (; i < n; i++) h = (h ^ load<u8>(p + i)) * 16777619;
  return (h ^ <u32>n) * 16777619;
}

function hashOf(minute: f64, key: usize, keyLen: usize, api: usize, apiLen: usize, outcome: u32, op: usize, opLen: usize): u32 {
  let h: u32 = 2166136261 ^ outcome;
  h = (h ^ <u32>(<i64>minute)) * 16777619;
  h = mix(h, key, keyLen);
  h = mix(h, api, apiLen);
  if (opLen > 0) h = mix(h, op, opLen);
  return h ^ (h >>> 15);
}

function growSlab(): void {
  const nc = recCap == 0 ? 64 : recCap * 2;
  const ns = heap.alloc(<usize>nc * REC);
  if (slab != 0) {
    memory.copy(ns, slab, <usize>used * REC);
    heap.free(slab);
  }
  slab = ns;
  recCap = nc;
  index.reset(nc);
  for (let r = 0; r < used; r++) index.insert(load<u32>(slab + <usize>r * REC, C_HASH), r);
}

/**
 * Counts one request. `statusClass` 1…5 adds to that upstream status class (allowed requests), 0 = none; `units`
 * (allowed requests) the units it spent; `op` the operation it matched (length 0: none); `wouldReject` (allowed
 * requests) a shadow limit had no room for it. Key, API and operation ids are at most 64 bytes (validated
 * configuration ids); longer input is ignored.
 */
export function countRequest(minute: f64, key: usize, keyLen: usize, api: usize, apiLen: usize, outcome: u32, statusClass: i32, units: u32 = 1,
  op: usize = 0, opLen: usize = 0, wouldReject: bool = false): void {
  if (keyLen > 64 || apiLen > 64 || opLen > 64) return;
  const h = hashOf(minute, key, keyLen, api, apiLen, outcome, op, opLen);
  for (let r = index.first(h); r >= 0; r = index.next(h)) {
    const p = slab + <usize>r * REC;
    if (load<f64>(p, C_MINUTE) == minute && <u32>load<u8>(p, C_OUTCOME) == outcome &&
        <usize>load<u8>(p, C_KEY_LEN) == keyLen && <usize>load<u8>(p, C_API_LEN) == apiLen &&
        <usize>load<u8>(p, C_OP_LEN) == opLen &&
        sameBytes(p + C_KEY, key, keyLen) && sameBytes(p + C_API, api, apiLen) && sameBytes(p + C_OP, op, opLen)) {
      const u = load<u32>(p, C_UNITS);
      if (u > u32.MAX_VALUE - units) {
        // The report's units field is a u32 (schemas/usage-report.v1.schema.json): a request whose units would not
        // fit is not held in the counter, and is reported as dropped like one the full table could not take.
        dropped++;
        bumpMetric(M_DROPPED);
        return;
      }
      store<u32>(p, u + units, C_UNITS);
      bump(p, statusClass);
      if (wouldReject) store<u32>(p, load<u32>(p, C_WOULD) + 1, C_WOULD);
      return;
    }
  }
  if (used >= maxEntries) {
    dropped++;
    bumpMetric(M_DROPPED);
    return;
  }
  if (used >= recCap) growSlab();
  const r = used++;
  const p = slab + <usize>r * REC;
  memory.fill(p, 0, REC);
  store<f64>(p, minute, C_MINUTE);
  store<u8>(p, <u8>outcome, C_OUTCOME);
  store<u8>(p, <u8>keyLen, C_KEY_LEN);
  store<u8>(p, <u8>apiLen, C_API_LEN);
  memory.copy(p + C_KEY, key, keyLen);
  memory.copy(p + C_API, api, apiLen);
  store<u8>(p, <u8>opLen, C_OP_LEN);
  memory.copy(p + C_OP, op, opLen);
  store<u32>(p, h, C_HASH);
  store<u32>(p, units, C_UNITS);
  store<u32>(p, wouldReject ? 1 : 0, C_WOULD);
  index.insert(h, r);
  bump(p, statusClass);
}

@inline function bump(p: usize, statusClass: i32): void {
  const c = load<u32>(p, C_COUNT);
  if (c != u32.MAX_VALUE) store<u32>(p, c + 1, C_COUNT);
  if (statusClass >= 1 && statusClass <= 5) {
    const q = p + C_STATUS + (<usize>(statusClass - 1) << 2);
    store<u32>(q, load<u32>(q) + 1);
  }
}

/** Forgets every counter (after they were moved into a batch). */
export function clearCounters(): void {
  used = 0;
  index.clear();
}

// Accessors for the report writer.
export function counterMinute(i: i32): f64 { return load<f64>(slab + <usize>i * REC, C_MINUTE); }
export function counterCountOf(i: i32): u32 { return load<u32>(slab + <usize>i * REC, C_COUNT); }
export function counterUnits(i: i32): u32 { return load<u32>(slab + <usize>i * REC, C_UNITS); }
export function counterStatus(i: i32, cls: i32): u32 { return load<u32>(slab + <usize>i * REC + C_STATUS + (<usize>(cls - 1) << 2)); }
export function counterOutcome(i: i32): u32 { return <u32>load<u8>(slab + <usize>i * REC, C_OUTCOME); }
export function counterKeyPtr(i: i32): usize { return slab + <usize>i * REC + C_KEY; }
export function counterKeyLen(i: i32): usize { return <usize>load<u8>(slab + <usize>i * REC, C_KEY_LEN); }
export function counterApiPtr(i: i32): usize { return slab + <usize>i * REC + C_API; }
export function counterApiLen(i: i32): usize { return <usize>load<u8>(slab + <usize>i * REC, C_API_LEN); }
export function counterOpPtr(i: i32): usize { return slab + <usize>i * REC + C_OP; }
export function counterOpLen(i: i32): usize { return <usize>load<u8>(slab + <usize>i * REC, C_OP_LEN); }
export function counterWouldReject(i: i32): u32 { return load<u32>(slab + <usize>i * REC, C_WOULD); }

export function outcomeName(o: u32): string {
  if (o == OUTCOME_ALLOWED) return "allowed";
  if (o == OUTCOME_REJECTED_QUOTA) return "rejected_quota";
  if (o == OUTCOME_REJECTED_AUTH) return "rejected_auth";
  return "rejected_forbidden";
}
