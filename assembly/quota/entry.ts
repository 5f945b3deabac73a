// The per-subscription shared-data entry and the admission decision over it (pure: no host calls).
//
// One entry per subscription (plan, consumer; quota/subscription.ts) holds a fixed slot per period (second … month), each with the window start and the units this
// Envoy admitted in it (a request spends its operation's cost, 1 without operations), plus the fleet's "others" count for a window from the last usage reply. Every period is
// counted on every admitted request whatever the plan's limits, so these five never move, and a plan change keeps exact counts. A slot whose window is stale is overwritten.
//
// Scoped limits (an API's or an operation's, docs/filter-config.md "Limits that compose") count in scoped slots after
// the five: each is keyed by a 32-bit hash of (scope, per) stored in the slot and found by a short scan. The entry has
// as many as its plan's applicable scoped limits need, capped at MAX_SCOPED_SLOTS; when they are all taken, a slot
// whose windows are stale is reused, else the one counted longest ago (its scope starts over: documented). So one
// get + one CAS set still cover any number of limits.
import { Limit } from "../config/model";
import { elementAt } from "../element";
import {
  creditBudget, creditBudgetUnits, creditDef, creditFrom, creditInit, creditReset, CREDITS, CREDIT_SIZE, creditSpend,
  creditUsed, creditWindow, defGrant, defPer,
} from "./credit";
import { PER_DAY, PER_HOUR, PER_MINUTE, PER_MONTH, PER_SECOND, PERIOD_COUNT, windowEnd, windowStart } from "../window";

const MAGIC: u32 = 0x31514754; // "TGQ1"
const SLOT: usize = 32;
/** An entry without scoped slots (header: magic u32, scoped slot count u32; then the five period slots). */
export const ENTRY_SIZE: usize = 8 + SLOT * <usize>PERIOD_COUNT;
/** Most scoped slots an entry has (docs/filter-config.md "Limits that compose": what happens beyond). */
export const MAX_SCOPED_SLOTS: i32 = 64;
/** Header bit: the entry ends with a credit block (quota/credit.ts); the low 16 bits are the scoped slot count. */
const CREDIT_FLAG: u32 = 0x10000;
export const ENTRY_MAX: usize = ENTRY_SIZE + SLOT * <usize>MAX_SCOPED_SLOTS;
/** The largest entry with its credit block: what a buffer for any entry needs. */
export const ENTRY_BUFFER: usize = ENTRY_MAX + CREDIT_SIZE;

/** Size of an entry with `scoped` scoped slots. */
@inline export function entrySize(scoped: i32): usize {
  return ENTRY_SIZE + SLOT * <usize>scoped;
}

// Slot layout (offsets within a slot).
const W_START = 0;   // f64 window start (unix s) of `count`
const COUNT = 8;     // u32 units admitted by this proxy in that window
const O_START = 16;  // f64 window start of `others`
const OTHERS = 24;   // u32 units admitted by the rest of the fleet in that window
const KEY = 12;      // u32 scoped slots: scopeSlotKey (0 = free)
const PER = 28;      // u32 scoped slots: the period

/**
 * The key of a scoped slot: FNV-1a of the scope ("<apiId>" or "<apiId>/<operationId>", as a fleet window's `scope`)
 * mixed with the period; never 0 (a free slot). 32 bits: a collision among one subscription's few scopes is ~n²/2³³.
 */
export function scopeSlotKey(p: usize, n: usize, per: i32): u32 {
  let h: u32 = 2166136261;
  for (let i: usize = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + i)) * 16777619;
  h = (h ^ <u32>(per + 0x100)) * 16777619;
  h ^= h >>> 15;
  return h == 0 ? 1 : h;
}

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

/** Whether `len` bytes at `p` are a well-formed entry of any size (anything else is treated as absent). */
@inline export function entryValid(p: usize, len: usize): bool {
  if (p == 0 || len < ENTRY_SIZE || load<u32>(p) != MAGIC) return false;
  const h = load<u32>(p, 4);
  const n = h & ~CREDIT_FLAG;
  return n <= <u32>MAX_SCOPED_SLOTS && len == entrySize(<i32>n) + ((h & CREDIT_FLAG) != 0 ? CREDIT_SIZE : 0);
}

/** The number of scoped slots of a valid entry. */
@inline export function entryScoped(p: usize): i32 {
  return <i32>(load<u32>(p, 4) & 0xffff);
}

/** The credit block of a valid entry, or 0 when it has none. */
@inline export function entryCredit(p: usize): usize {
  const h = load<u32>(p, 4);
  return (h & CREDIT_FLAG) != 0 ? p + entrySize(<i32>(h & 0xffff)) : 0;
}

/** Bytes of a valid entry. */
@inline export function entryTotal(p: usize): usize {
  const h = load<u32>(p, 4);
  return entrySize(<i32>(h & 0xffff)) + ((h & CREDIT_FLAG) != 0 ? CREDIT_SIZE : 0);
}

/** Gives the valid entry at p (room for ENTRY_BUFFER bytes) an empty credit block if it has none; returns the block. */
export function entryAddCredit(p: usize): usize {
  const c = entryCredit(p);
  if (c != 0) return c;
  const h = load<u32>(p, 4);
  store<u32>(p, h | CREDIT_FLAG, 4);
  const b = p + entrySize(<i32>h);
  creditInit(b);
  return b;
}

@inline function scopedSlot(p: usize, i: i32): usize {
  return p + ENTRY_SIZE + <usize>i * SLOT;
}

@inline function clearSlot(s: usize): void {
  memory.fill(s, 0, SLOT);
  store<f64>(s, -1, W_START);
  store<f64>(s, -1, O_START);
}

/** Initialises an empty entry at `p` with `scoped` (≤ MAX_SCOPED_SLOTS) free scoped slots. */
export function entryInit(p: usize, scoped: i32 = 0): void {
  memory.fill(p, 0, entrySize(scoped));
  store<u32>(p, MAGIC);
  store<u32>(p, <u32>scoped, 4);
  for (let per = 0; per < PERIOD_COUNT; per++) clearSlot(slot(p, per));
  for (let i = 0; i < scoped; i++) clearSlot(scopedSlot(p, i));
}

/** Whether sorted `keys` holds `k`. */
export function hasKey(keys: StaticArray<u32>, k: u32): bool {
  let lo = 0, hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = unchecked(keys[mid]);
    if (v == k) return true;
    if (v < k) lo = mid + 1; else hi = mid;
  }
  return false;
}

/**
 * Copies the valid entry at `src` into `dst` (ENTRY_BUFFER bytes) with `scoped` scoped slots, after a plan change: the
 * five period slots as they are, and the scoped slots whose key is still in the plan's sorted `keys` (so a limit
 * whose scope and period survive keeps its count), as many as fit.
 */
export function entryResize(dst: usize, src: usize, scoped: i32, keys: StaticArray<u32>): void {
  const credit = entryCredit(src);
  entryInit(dst, scoped);
  if (credit != 0) memory.copy(entryAddCredit(dst), credit, CREDIT_SIZE);
  memory.copy(dst + 8, src + 8, SLOT * <usize>PERIOD_COUNT);
  const n = entryScoped(src);
  let k = 0;
  for (let i = 0; i < n && k < scoped; i++) {
    const s = scopedSlot(src, i);
    const key = load<u32>(s, KEY);
    if (key == 0 || !hasKey(keys, key)) continue;
    memory.copy(scopedSlot(dst, k++), s, SLOT);
  }
}

/** The scoped slot with `key`, or 0. */
@inline export function findScoped(p: usize, key: u32): usize {
  const n = entryScoped(p);
  for (let i = 0; i < n; i++) {
    const s = scopedSlot(p, i);
    if (load<u32>(s, KEY) == key) return s;
  }
  return 0;
}

/**
 * The scoped slot with `key` of period `per`, taking one when there is none: a free one, else one whose windows are
 * both stale (for windows at the last decision's time; `evict` only), else (`evict`) the one counted longest ago.
 * 0 when the entry has no scoped slots, or nothing could be taken.
 */
function takeScoped(p: usize, key: u32, per: i32, evict: bool): usize {
  const n = entryScoped(p);
  let free: usize = 0, stale: usize = 0, oldest: usize = 0;
  let oldestStart: f64 = Infinity;
  for (let i = 0; i < n; i++) {
    const s = scopedSlot(p, i);
    const k = load<u32>(s, KEY);
    if (k == key) return s;
    if (k == 0) { if (free == 0) free = s; continue; }
    const sp = load<u32>(s, PER);
    if (windowsAt != i64.MIN_VALUE && sp < <u32>PERIOD_COUNT && stale == 0) {
      const cur = load<f64>(STARTS + (<usize>sp << 3));
      if (load<f64>(s, W_START) < cur && load<f64>(s, O_START) < cur) stale = s;
    }
    const w = load<f64>(s, W_START);
    if (w < oldestStart) { oldestStart = w; oldest = s; }
  }
  let s = free != 0 ? free : stale;
  if (s == 0) {
    if (!evict) return 0;
    s = oldest;
  }
  if (s == 0) return 0;
  clearSlot(s);
  store<u32>(s, key, KEY);
  store<u32>(s, <u32>per, PER);
  return s;
}

/** Units counted against window `start` of `per`: local count plus the fleet's others for that window. */
export function usedInWindow(p: usize, per: i32, start: f64): u64 {
  return usedAt(slot(p, per), start);
}

/** Units counted against window `start` in the scoped slot `key` (0 when it has none). */
export function usedScoped(p: usize, key: u32, start: f64): u64 {
  const s = findScoped(p, key);
  return s == 0 ? 0 : usedAt(s, start);
}

@inline function usedAt(s: usize, start: f64): u64 {
  let used: u64 = 0;
  if (load<f64>(s, W_START) == start) used += <u64>load<u32>(s, COUNT);
  if (load<f64>(s, O_START) == start) used += <u64>load<u32>(s, OTHERS);
  return used;
}

/** Stores the fleet's count for a window (from a usage reply); an older window never replaces a newer one. */
export function entrySetOthers(p: usize, per: i32, start: f64, others: u32): void {
  setOthersAt(slot(p, per), start, others);
}

/**
 * Stores the fleet's count for a window of the scoped slot `key` (period `per`), taking a free or stale slot if it
 * has none; false when none could be taken (every slot live: the reply's count is dropped, never a live count).
 */
export function entrySetOthersScoped(p: usize, key: u32, per: i32, start: f64, others: u32): bool {
  const s = takeScoped(p, key, per, false);
  if (s == 0) return false;
  setOthersAt(s, start, others);
  return true;
}

@inline function setOthersAt(s: usize, start: f64, others: u32): void {
  if (load<f64>(s, O_START) > start) return;
  store<f64>(s, start, O_START);
  store<u32>(s, others, OTHERS);
}

/** Outcome of one decision, including the RateLimit values of the limit that decided. */
export class Decision {
  admitted: bool = true;
  /** The limit shown in RateLimit headers; false when no enforced limit applies. */
  hasLimit: bool = false;
  limit: u32 = 0;
  remaining: u32 = 0;
  /** Seconds until that limit's window ends (≥ 1). */
  reset: u32 = 0;
  /** That limit (its id names it in a 429 and in RateLimit-Policy); null with hasLimit false. */
  which: Limit | null = null;
  /** Length in seconds of that limit's current window (RateLimit-Policy `w`). */
  window: u32 = 0;
  /** Admitted, but a shadow limit had no room: the first such (its id goes in shadowHeader); null = none. */
  shadow: Limit | null = null;
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

/** Whether limit `l` applies to a request to API `api`, operation `op` (-1: none). */
@inline function applies(l: Limit, api: i32, op: i32): bool {
  return l.api < 0 || (l.api == api && (l.op < 0 || l.op == op));
}

/** Whether a plan limit (in `limits`) overrides operation default `l` of operation `op` of API `api`: same scope and per. */
function overridden(limits: Limit[], l: Limit, api: i32, op: i32): bool {
  for (let i = 0; i < limits.length; i++) {
    const m = elementAt(limits, i);
    if (m.op == op && m.api == api && m.per == l.per) return true;
  }
  return false;
}

// Per-decision state of decide() (module globals: no allocation per request).
let bestRemaining: u64 = 0;
let bestReset: i64 = 0;
let bestLimit: u32 = 0;
let best: Limit | null = null;
let denyReset: i64 = -1;
let denyLimit: u32 = 0;
let denyRemaining: u32 = 0;
let deny: Limit | null = null;
let shadowHit: Limit | null = null;
/** Bit i: scoped slot i already counted by this request (two limits of one scope and period share a slot). */
let countedSlots: u64 = 0;

/** Weighs one applicable limit into the decision state; false when it has no room and is enforced. */
function weigh(p: usize, l: Limit, shadow: bool, now: i64, coldShare: f64, units: u32): bool {
  const requests = coldShare < 1 ? effectiveLimit(l.requests, l.per, coldShare) : l.requests;
  const start = load<f64>(STARTS + (<usize>l.per << 3));
  const used = l.slot == 0 ? usedInWindow(p, l.per, start) : usedScoped(p, l.slot, start);
  if (used + <u64>units > <u64>requests) {
    if (shadow) {
      if (shadowHit == null) shadowHit = l;
      return true;
    }
    const reset = load<i64>(ENDS + (<usize>l.per << 3)) - now;
    if (reset > denyReset) {
      denyReset = reset; denyLimit = requests; deny = l;
      denyRemaining = used < <u64>requests ? <u32>(<u64>requests - used) : 0;
    }
    return false;
  }
  if (!shadow) {
    const reset = load<i64>(ENDS + (<usize>l.per << 3)) - now;
    const remaining = <u64>requests - used - <u64>units;
    if (remaining < bestRemaining || (remaining == bestRemaining && reset > bestReset)) {
      bestRemaining = remaining; bestReset = reset; bestLimit = requests; best = l;
    }
  }
  return true;
}

/** The key-set generation this VM serves (keyfeed/lookup.ts), which picks a credit block's definition; 0: no feed. */
let creditGen: u32 = 0;
export function setCreditGeneration(g: u32): void { creditGen = g; }
/** Whether a balance could apply (a key set is served): a plan without limits must then read its entry. */
@inline export function usesCredits(): bool { return creditGen != 0; }
/** Whether the entry at p holds a balance for the served generation (a plan without limits reads no further). */
export function entryHasBalance(p: usize): bool {
  const c = entryCredit(p);
  return c != 0 && creditDef(c, creditGen) != 0;
}

/** The definition weighCredit weighed (0: none), and its block: spent on admission. */
let weighedDef: usize = 0;

/** Spends `units` of the balance weighCredit weighed (decide, on admission). */
function spendCredit(p: usize, units: u32): void {
  if (weighedDef != 0) creditSpend(entryCredit(p), defGrant(weighedDef), creditFrom, units);
}

/** Header values of a limit, or of the balance (`reset` 0: it never refills; `window` its refill period). */
function resetOf(l: Limit, reset: i64): u32 { return l === CREDITS ? creditReset : <u32>reset; }
function windowOf(l: Limit): u32 { return l === CREDITS ? creditWindow : windowLength(l.per); }
@inline function clampU32(v: f64): u32 { return v >= 4294967295 ? u32.MAX_VALUE : v <= 0 ? 0 : <u32>v; }

/**
 * Weighs the credit balance of definition `def` (block `c`) like a limit (decide): reset ranks as the next refill,
 * or after every window when it never refills; false when it has no room and `shadow` is off.
 */
function weighCredit(p: usize, now: i64, units: u32, shadow: bool): bool {
  const c = entryCredit(p);
  const def = c != 0 ? creditDef(c, creditGen) : 0;
  weighedDef = def;
  if (def == 0) return true;
  const per = defPer(def);
  if (per >= 0) creditBudget(def, load<f64>(STARTS + (<usize>per << 3)), load<i64>(ENDS + (<usize>per << 3)), now);
  else creditBudget(def, 0, 0, now);
  const budget = creditBudgetUnits;
  const used = creditUsed(c, defGrant(def), creditFrom);
  const rank: i64 = creditReset == 0 ? i64.MAX_VALUE : <i64>creditReset;
  if (used + <f64>units > budget) {
    if (shadow) {
      if (shadowHit == null) shadowHit = CREDITS;
      return true;
    }
    if (rank > denyReset) {
      denyReset = rank; denyLimit = clampU32(budget); deny = CREDITS;
      denyRemaining = clampU32(budget - used);
    }
    return false;
  }
  if (!shadow) {
    const remaining = <u64>(budget - used - <f64>units);
    if (remaining < bestRemaining || (remaining == bestRemaining && rank > bestReset)) {
      bestRemaining = remaining; bestReset = rank; bestLimit = clampU32(budget); best = CREDITS;
    }
  }
  return true;
}

/** Counts an admitted request's units in the scoped slot of `l` (once per slot per request). */
function countScoped(p: usize, l: Limit, units: u32): void {
  const s = takeScoped(p, l.slot, l.per, true);
  if (s == 0) return; // an entry without scoped slots (another configuration's size): not counted, see docs
  const bit: u64 = <u64>1 << <u64>((s - p - ENTRY_SIZE) / SLOT);
  if ((countedSlots & bit) != 0) return;
  countedSlots |= bit;
  countAt(s, load<f64>(STARTS + (<usize>l.per << 3)), units);
}

/**
 * Decides a request spending `units` (≥ 1) at `now` (unix s) using the entry at `p`, against the plan's `limits`
 * that apply to API `api` and its operation `op` (-1: none; unscoped limits always apply) and the operation's
 * default limits `opLimits` that no plan limit overrides (shadow when `planShadow`): admitted iff used + units ≤
 * limit for every enforced (non-shadow) limit, and then `units` are counted in every period's slot and in the
 * scoped slot of every applicable scoped limit, shadow ones included (in place). The tightest enforced limit (fewest
 * remaining; on a tie the later reset) decides the header values; on rejection, the exhausted enforced limit whose
 * window ends last (so Retry-After is enough for every limit). A shadow limit without room never rejects: it is
 * reported in `d.shadow`. `coldShare` < 1 applies the cold-start limit (effectiveLimit), which the RateLimit values
 * then show.
 */
@inline export function decide(p: usize, limits: Limit[], now: i64, d: Decision, coldShare: f64 = 1, units: u32 = 1,
  api: i32 = -1, op: i32 = -1, opLimits: Limit[] | null = null, planShadow: bool = false): void {
  windowsFor(now);
  bestRemaining = u64.MAX_VALUE; bestReset = 0; bestLimit = 0; best = null;
  denyReset = -1; deny = null; shadowHit = null;
  let admitted = true, scoped = false;
  for (let i = 0; i < limits.length; i++) {
    const l = elementAt(limits, i);
    if (l.slot != 0) {
      if (!applies(l, api, op)) continue;
      scoped = true;
    }
    if (!weigh(p, l, l.shadow, now, coldShare, units)) admitted = false;
  }
  if (opLimits != null) {
    for (let i = 0; i < opLimits.length; i++) {
      const l = elementAt(opLimits, i);
      if (overridden(limits, l, api, op)) continue;
      scoped = true;
      if (!weigh(p, l, l.shadow || planShadow, now, coldShare, units)) admitted = false;
    }
  }
  // The balance, when the entry holds one for the served key set: weighed with the limits, spent with them.
  if (!weighCredit(p, now, units, planShadow)) admitted = false;
  d.admitted = admitted;
  d.shadow = null;
  if (!admitted) {
    const l = deny!;
    d.hasLimit = true;
    d.limit = denyLimit;
    // What is left of that limit (0 unless the request costs more than the units left).
    d.remaining = denyRemaining;
    d.reset = resetOf(l, denyReset);
    d.which = l;
    d.window = windowOf(l);
    return;
  }
  d.shadow = shadowHit;
  d.hasLimit = best != null;
  d.which = best;
  if (best != null) {
    const l = best!;
    d.limit = bestLimit;
    d.remaining = bestRemaining > <u64>u32.MAX_VALUE ? u32.MAX_VALUE : <u32>bestRemaining;
    d.reset = resetOf(l, bestReset);
    d.window = windowOf(l);
  }
  spendCredit(p, units);
  // Written out for the five periods (no loop: this runs on every admitted request).
  countIn(p, PER_SECOND, units);
  countIn(p, PER_MINUTE, units);
  countIn(p, PER_HOUR, units);
  countIn(p, PER_DAY, units);
  countIn(p, PER_MONTH, units);
  if (scoped) countAllScoped(p, limits, api, op, opLimits, units);
}

/**
 * decide() for a plan whose limits are all unscoped and enforced, and a request without operation defaults (the
 * common case, kept as it was before scoped limits: its state in locals, no scoped slot scan).
 */
@inline export function decidePlain(p: usize, limits: Limit[], now: i64, d: Decision, coldShare: f64 = 1, units: u32 = 1): void {
  windowsFor(now);
  let admitted = true;
  let bestRemaining: u64 = u64.MAX_VALUE;
  let bestReset: i64 = 0;
  let bestLimit: u32 = 0;
  let best = -1;
  let denyReset: i64 = -1;
  let denyLimit: u32 = 0;
  let denyRemaining: u32 = 0;
  let deny = -1;
  for (let i = 0; i < limits.length; i++) {
    const l = elementAt(limits, i);
    const requests = coldShare < 1 ? effectiveLimit(l.requests, l.per, coldShare) : l.requests;
    const reset = load<i64>(ENDS + (<usize>l.per << 3)) - now;
    const used = usedInWindow(p, l.per, load<f64>(STARTS + (<usize>l.per << 3)));
    if (used + <u64>units > <u64>requests) {
      admitted = false;
      if (reset > denyReset) {
        denyReset = reset; denyLimit = requests; deny = i;
        denyRemaining = used < <u64>requests ? <u32>(<u64>requests - used) : 0;
      }
    } else {
      const remaining = <u64>requests - used - <u64>units;
      if (remaining < bestRemaining || (remaining == bestRemaining && reset > bestReset)) {
        bestRemaining = remaining; bestReset = reset; bestLimit = requests; best = i;
      }
    }
  }
  d.admitted = admitted;
  d.shadow = null;
  if (!admitted) {
    const l = elementAt(limits, deny);
    d.hasLimit = true;
    d.limit = denyLimit;
    d.remaining = denyRemaining;
    d.reset = <u32>denyReset;
    d.which = l;
    d.window = windowLength(l.per);
    return;
  }
  d.hasLimit = best >= 0;
  if (best >= 0) {
    const l = elementAt(limits, best);
    d.limit = bestLimit;
    d.remaining = <u32>bestRemaining;
    d.reset = <u32>bestReset;
    d.which = l;
    d.window = windowLength(l.per);
  }
  countIn(p, PER_SECOND, units);
  countIn(p, PER_MINUTE, units);
  countIn(p, PER_HOUR, units);
  countIn(p, PER_DAY, units);
  countIn(p, PER_MONTH, units);
}

/** Counts an admitted request in the scoped slots of its applicable scoped limits (decide). */
function countAllScoped(p: usize, limits: Limit[], api: i32, op: i32, opLimits: Limit[] | null, units: u32): void {
  countedSlots = 0;
  for (let i = 0; i < limits.length; i++) {
    const l = elementAt(limits, i);
    if (l.slot != 0 && applies(l, api, op)) countScoped(p, l, units);
  }
  if (opLimits == null) return;
  for (let i = 0; i < opLimits.length; i++) {
    const l = elementAt(opLimits, i);
    if (!overridden(limits, l, api, op)) countScoped(p, l, units);
  }
}

/** Length in seconds of the current window of `per` (the month's varies). */
@inline function windowLength(per: i32): u32 {
  return <u32>(load<i64>(ENDS + (<usize>per << 3)) - <i64>load<f64>(STARTS + (<usize>per << 3)));
}

/** Counts an admitted request's units in the slot of period `per` (a stale window starts over; saturating). */
@inline function countIn(p: usize, per: i32, units: u32): void {
  countAt(slot(p, per), load<f64>(STARTS + (<usize>per << 3)), units);
}

@inline function countAt(s: usize, start: f64, units: u32): void {
  if (load<f64>(s, W_START) != start) {
    store<f64>(s, start, W_START);
    store<u32>(s, 0, COUNT);
  }
  const c = load<u32>(s, COUNT);
  store<u32>(s, c > u32.MAX_VALUE - units ? u32.MAX_VALUE : c + units, COUNT);
}
