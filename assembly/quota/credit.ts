// Credit balances (docs/filter.md "Credits", contracts/key-feed.ts FeedCredit): a subscription's balance lives in a
// block of its quota entry (quota/entry.ts), so a request weighs it with the same get + CAS set as its limits, exact
// across workers. Pure: no host calls.
//
// Block (CREDIT_SIZE bytes, after the scoped slots):
//   two definitions (DEF_A, DEF_B: places, neither is "the current one"), each: u32 stamp (the key-set generation it belongs to) · u32 present ·
//     u64 grant (grantHash of the grant id) · f64 balance · f64 refillAmount · f64 since · i32 refillPer (PER_*, -1:
//     never) · u32 pad · u64 line (its 8 bytes of the set digest, to XOR it out when it is replaced)
//   spend: u64 grant · f64 from · f64 spent (this proxy's units) · u64 othersGrant · f64 othersFrom · f64 others
// A request uses the definition stamped with the generation its VM serves: a snapshot writes the new generation's
// into the place the served one does not use (as keys are written into the other slot), so the meta's one CAS flip
// switches balances and keys together, and a balance absent from the new snapshot is gone with the flip.
// Spend is kept apart from the definitions: a new snapshot with the same grant keeps what was spent.

import { Limit } from "../config/model";

const DEF: usize = 56;
export const CREDIT_SIZE: usize = 2 * DEF + 48;
const DEF_A: usize = 0;
const DEF_B: usize = DEF;
const SPEND: usize = 2 * DEF;
const D_STAMP = 0, D_PRESENT = 4, D_GRANT = 8, D_BALANCE = 16, D_REFILL = 24, D_SINCE = 32, D_PER = 40, D_LINE = 48;
const S_GRANT = 0, S_FROM = 8, S_SPENT = 16, S_OGRANT = 24, S_OFROM = 32, S_OTHERS = 40;

/** The limit a credit decision names (429 `limit`, RateLimit-Policy, shadowHeader): CREDIT_LIMIT_ID. */
export const CREDITS = new Limit(0, -1);
CREDITS.id = String.UTF8.encode("credits");

/** FNV-1a 64 of a grant id (≤ 32 bytes): the grant's identity in the entry. */
export function grantHash(p: usize, n: usize): u64 {
  let h: u64 = 0xcbf29ce484222325;
  for (let i: usize = 0; i < n; i++) h = (h ^ <u64>load<u8>(p + i)) * 0x100000001b3;
  return h;
}

/** An empty block at c: no definition, nothing spent. */
export function creditInit(c: usize): void {
  memory.fill(c, 0, CREDIT_SIZE);
  store<f64>(c + SPEND, -1, S_FROM);
  store<f64>(c + SPEND, -1, S_OFROM);
}

/** The definition that applies under generation `gen` (0: none), or 0 when there is none or the balance was removed. */
export function creditDef(c: usize, gen: u32): usize {
  if (gen == 0) return 0;
  let d = c + DEF_A;
  if (load<u32>(d, D_STAMP) != gen) {
    d = c + DEF_B;
    if (load<u32>(d, D_STAMP) != gen) return 0;
  }
  return load<u32>(d, D_PRESENT) != 0 ? d : 0;
}

@inline export function defGrant(d: usize): u64 { return load<u64>(d, D_GRANT); }
@inline export function defPer(d: usize): i32 { return load<i32>(d, D_PER); }

// What creditBudget found (module globals: no allocation per request).
/** Start of the counting: the grant's `since`, or the latest refill boundary after it. */
export let creditFrom: f64 = 0;
/** Units the balance holds from creditFrom on. */
export let creditBudgetUnits: f64 = 0;
/** Seconds until the next refill (0: it never refills). */
export let creditReset: u32 = 0;
/** Length in seconds of the refill period in progress (0: it never refills). */
export let creditWindow: u32 = 0;

/**
 * The budget of definition `d` at `now`, given the current window of its refill period (`boundary` its start, `end`
 * its end; ignored when it never refills): from `since` the balance; from the first period boundary after `since`
 * on, `refillAmount`, restarting at each boundary (the balance BECOMES the refill; nothing carries over).
 */
export function creditBudget(d: usize, boundary: f64, end: i64, now: i64): void {
  const since = load<f64>(d, D_SINCE);
  creditFrom = since;
  creditBudgetUnits = load<f64>(d, D_BALANCE);
  creditReset = 0;
  creditWindow = 0;
  if (load<i32>(d, D_PER) < 0) return;
  if (boundary > since) {
    creditFrom = boundary;
    creditBudgetUnits = load<f64>(d, D_REFILL);
  }
  // A `since` in the future (clock skew) refills at a later boundary than this window's end: no reset shown.
  if (<f64>end <= since) return;
  creditReset = end > now ? <u32>(end - now) : 1;
  creditWindow = <u32>(end - <i64>boundary);
}

/** Units counted against `grant` from `from`: this proxy's and the fleet's (each only when it names both). */
export function creditUsed(c: usize, grant: u64, from: f64): f64 {
  const s = c + SPEND;
  let used: f64 = 0;
  if (load<u64>(s, S_GRANT) == grant && load<f64>(s, S_FROM) == from) used += load<f64>(s, S_SPENT);
  if (load<u64>(s, S_OGRANT) == grant && load<f64>(s, S_OFROM) == from) used += load<f64>(s, S_OTHERS);
  return used;
}

/** Spends `units` of `grant` from `from` (a new grant or a passed refill boundary starts over, like a window). */
export function creditSpend(c: usize, grant: u64, from: f64, units: u32): void {
  const s = c + SPEND;
  if (load<u64>(s, S_GRANT) != grant || load<f64>(s, S_FROM) != from) {
    store<u64>(s, grant, S_GRANT);
    store<f64>(s, from, S_FROM);
    store<f64>(s, 0, S_SPENT);
  }
  store<f64>(s, load<f64>(s, S_SPENT) + <f64>units, S_SPENT);
}

/**
 * Stores the fleet's spend against `grant` from `from` (a CreditSpend), only when one of the block's definitions has
 * that grant (a spend for a replaced grant must not displace the current one's); for the same grant an earlier
 * `from` never replaces a later one.
 */
export function creditSetOthers(c: usize, grant: u64, from: f64, others: f64): bool {
  if (!(load<u32>(c + DEF_A, D_PRESENT) != 0 && load<u64>(c + DEF_A, D_GRANT) == grant) &&
      !(load<u32>(c + DEF_B, D_PRESENT) != 0 && load<u64>(c + DEF_B, D_GRANT) == grant)) return false;
  const s = c + SPEND;
  if (load<u64>(s, S_OGRANT) == grant && load<f64>(s, S_OFROM) > from) return false;
  store<u64>(s, grant, S_OGRANT);
  store<f64>(s, from, S_OFROM);
  store<f64>(s, others, S_OTHERS);
  return true;
}

/** Set by creditWrite: the digest line of the definition it replaced in the set (replacedAny false: none). */
export let replacedAny = false;
export let replacedLine: u64 = 0;

/**
 * Writes a definition from a page record (keyfeed/page.ts: present, grant … line at `r`) into the block at c, for
 * generation `stamp`: over the definition of that generation if there is one (a delta's `set`/`remove`, or the same
 * balance twice in one snapshot), else over the other place — for a snapshot (`stamp` ≠ `served`) never the one the
 * served generation uses, otherwise the older generation's (a VM whose cached meta lags keeps the newer one). Generation
 * numbers only grow within a process. replacedAny/replacedLine tell which definition of the set it replaced (digest).
 */
export function creditWrite(c: usize, r: usize, stamp: u32, served: u32, snapshot: bool): void {
  const cur = c + DEF_A, pen = c + DEF_B;
  const sc = load<u32>(cur, D_STAMP), sp = load<u32>(pen, D_STAMP);
  let into = sc < sp ? cur : pen;
  let old: usize = 0;
  if (sc == stamp) old = into = cur;
  else if (sp == stamp) old = into = pen;
  else if (snapshot && (sc == served || sp == served)) into = sc == served ? pen : cur;
  replacedAny = old != 0 && load<u32>(old, D_PRESENT) != 0;
  replacedLine = replacedAny ? load<u64>(old, D_LINE) : 0;
  store<u32>(into, stamp, D_STAMP);
  memory.copy(into + D_PRESENT, r, DEF - D_PRESENT);
}

/** Bytes of a definition record after its stamp: present · grant · balance · refill · since · per · pad · line. */
export const CREDIT_RECORD: usize = DEF - D_PRESENT;

/** Fills a definition record at r (the page parser's form of a FeedCredit, or of a removal: present false). */
export function creditRecord(r: usize, present: bool, grant: u64, balance: f64, refill: f64, since: f64, per: i32, line: u64): void {
  const d = r - D_PRESENT;
  store<u32>(d, present ? 1 : 0, D_PRESENT);
  store<u64>(d, grant, D_GRANT);
  store<f64>(d, balance, D_BALANCE);
  store<f64>(d, refill, D_REFILL);
  store<f64>(d, since, D_SINCE);
  store<i32>(d, per, D_PER);
  store<u32>(d, 0, D_PER + 4);
  store<u64>(d, line, D_LINE);
}

/** The digest line of a record (creditRecord). */
export function recordLine(r: usize): u64 { return load<u64>(r - D_PRESENT, D_LINE); }
/** Whether a record sets a balance (false: removes it). */
export function recordPresent(r: usize): bool { return load<u32>(r - D_PRESENT, D_PRESENT) != 0; }
