// The per-subscription shared-data entry and the admission decision over it (pure: no host calls).
//
// One entry per subscription (plan, consumer; quota/subscription.ts) holds a fixed slot per period (second … month), each with the window start and the units this
// Envoy admitted in it (a request spends its operation's cost, 1 without operations), plus the fleet's "others" count for a window from the last usage reply. Every period is
// counted on every admitted request whatever the plan's limits, so the entry never grows, one get + one CAS set
// cover any number of limits, and a plan change keeps exact counts. A slot whose window is stale is overwritten.

import { Limit } from "../config/model";
import { elementAt } from "../element";
import { PER_DAY, PER_HOUR, PER_MINUTE, PER_MONTH, PER_SECOND, PERIOD_COUNT, windowEnd, windowStart } from "../window";

const MAGIC: u32 = 0x31514754; // "TGQ1"
const SLOT: usize = 32;
export const ENTRY_SIZE: usize = 8 + SLOT * <usize>PERIOD_COUNT;

// Slot layout (offsets within a slot).
const W_START = 0;   // f64 window start (unix s) of `count`
const COUNT = 8;     // u32 units admitted by this proxy in that window
const O_START = 16;  // f64 window start of `others`
const OTHERS = 24;   // u32 units admitted by the rest of the fleet in that window

// Window starts (f64, as the entry stores them) and ends (i64) of every period at `windowsAt`: requests within one
// second share them, and the month's calendar arithmetic is redone only when the day changes.
const STARTS = memory.data(8 * PERIOD_COUNT);
const ENDS = memory.data(8 * PERIOD_COUNT);
let windowsAt: i64 = i64.MIN_VALUE;
let monthDay: f64 = -Infinity;

/** Fills STARTS and ENDS for `now` (unix seconds). */
function windowsFor(now: i64): void {
  if (now == windowsAt) return;
  for (let per = 0; per < PER_MONTH; per++) {
    const start = windowStart(per, now);
    store<f64>(STARTS + (<usize>per << 3), <f64>start);
    store<i64>(ENDS + (<usize>per << 3), windowEnd(per, start));
  }
  const day = load<f64>(STARTS + (<usize>PER_DAY << 3));
  if (day != monthDay) {
    const start = windowStart(PER_MONTH, now);
    store<f64>(STARTS + (<usize>PER_MONTH << 3), <f64>start);
    store<i64>(ENDS + (<usize>PER_MONTH << 3), windowEnd(PER_MONTH, start));
    monthDay = day;
  }
  windowsAt = now;
}

@inline function slot(entry: usize, per: i32): usize {
  return entry + 8 + <usize>per * SLOT;
}

/** Whether `len` bytes at `p` are a well-formed entry (anything else is treated as absent). */
@inline export function entryValid(p: usize, len: usize): bool {
  return p != 0 && len == ENTRY_SIZE && load<u32>(p) == MAGIC;
}

/** Initialises an empty entry at `p`. */
export function entryInit(p: usize): void {
  memory.fill(p, 0, ENTRY_SIZE);
  store<u32>(p, MAGIC);
  for (let per = 0; per < PERIOD_COUNT; per++) {
    store<f64>(slot(p, per), -1, W_START);
    store<f64>(slot(p, per), -1, O_START);
  }
}

/** Units counted against window `start` of `per`: local count plus the fleet's others for that window. */
export function usedInWindow(p: usize, per: i32, start: f64): u64 {
  const s = slot(p, per);
  let used: u64 = 0;
  if (load<f64>(s, W_START) == start) used += <u64>load<u32>(s, COUNT);
  if (load<f64>(s, O_START) == start) used += <u64>load<u32>(s, OTHERS);
  return used;
}

/** Stores the fleet's count for a window (from a usage reply); an older window never replaces a newer one. */
export function entrySetOthers(p: usize, per: i32, start: f64, others: u32): void {
  const s = slot(p, per);
  if (load<f64>(s, O_START) > start) return;
  store<f64>(s, start, O_START);
  store<u32>(s, others, OTHERS);
}

/** Outcome of one decision, including the RateLimit-* values of the limit that decided. */
export class Decision {
  admitted: bool = true;
  /** The limit shown in RateLimit-* headers; false when the plan has no limits. */
  hasLimit: bool = false;
  limit: u32 = 0;
  remaining: u32 = 0;
  /** Seconds until that limit's window ends (≥ 1). */
  reset: u32 = 0;
}

/**
 * The limit enforced while this Envoy has not yet learnt the fleet's counts (cold start, docs/filter.md): for hour,
 * day and month windows max(1, floor(requests × share)), because a restart forgot what was admitted earlier in them;
 * second and minute limits are unchanged (one minute window bounds their exposure). `share` ≥ 1 = no restriction.
 */
export function effectiveLimit(requests: u32, per: i32, share: f64): u32 {
  if (share >= 1 || per < PER_HOUR) return requests;
  const e = Math.floor(<f64>requests * (share > 0 ? share : 0));
  return e < 1 ? 1 : <u32>e;
}

/**
 * Decides a request spending `units` (≥ 1) at `now` (unix s) against `limits` using the entry at `p`: admitted iff
 * used + units ≤ limit for every limit, and then `units` are counted in every period's slot (in place). The tightest limit (fewest remaining; on a tie the later reset) decides the header
 * values; on rejection, the exhausted limit whose window ends last (so Retry-After is enough for every limit).
 * `coldShare` < 1 applies the cold-start limit (effectiveLimit), which the RateLimit-* values then show.
 */
@inline export function decide(p: usize, limits: Limit[], now: i64, d: Decision, coldShare: f64 = 1, units: u32 = 1): void {
  windowsFor(now);
  d.admitted = true;
  d.hasLimit = false;
  let bestRemaining: u64 = u64.MAX_VALUE;
  let bestReset: i64 = 0;
  let bestLimit: u32 = 0;
  let denyReset: i64 = -1;
  let denyLimit: u32 = 0;
  let denyRemaining: u32 = 0;
  for (let i = 0; i < limits.length; i++) {
    const l = elementAt(limits, i);
    const requests = coldShare < 1 ? effectiveLimit(l.requests, l.per, coldShare) : l.requests;
    const reset = load<i64>(ENDS + (<usize>l.per << 3)) - now;
    const used = usedInWindow(p, l.per, load<f64>(STARTS + (<usize>l.per << 3)));
    if (used + <u64>units > <u64>requests) {
      d.admitted = false;
      if (reset > denyReset) {
        denyReset = reset; denyLimit = requests;
        denyRemaining = used < <u64>requests ? <u32>(<u64>requests - used) : 0;
      }
    } else {
      const remaining = <u64>requests - used - <u64>units;
      if (remaining < bestRemaining || (remaining == bestRemaining && reset > bestReset)) {
        bestRemaining = remaining; bestReset = reset; bestLimit = requests;
      }
    }
  }
  if (!d.admitted) {
    d.hasLimit = true;
    d.limit = denyLimit;
    // What is left of that limit (0 unless the request costs more than the units left).
    d.remaining = denyRemaining;
    d.reset = <u32>denyReset;
    return;
  }
  if (limits.length > 0) {
    d.hasLimit = true;
    d.limit = bestLimit;
    d.remaining = <u32>bestRemaining;
    d.reset = <u32>bestReset;
  }
  // Written out for the five periods (no loop: this runs on every admitted request).
  countIn(p, PER_SECOND, units);
  countIn(p, PER_MINUTE, units);
  countIn(p, PER_HOUR, units);
  countIn(p, PER_DAY, units);
  countIn(p, PER_MONTH, units);
}

/** Counts an admitted request's units in the slot of period `per` (a stale window starts over; saturating). */
@inline function countIn(p: usize, per: i32, units: u32): void {
  const s = slot(p, per);
  const start = load<f64>(STARTS + (<usize>per << 3));
  if (load<f64>(s, W_START) != start) {
    store<f64>(s, start, W_START);
    store<u32>(s, 0, COUNT);
  }
  const c = load<u32>(s, COUNT);
  store<u32>(s, c > u32.MAX_VALUE - units ? u32.MAX_VALUE : c + units, COUNT);
}
