// Quota enforcement against the subscription's shared-data entry (quota/subscription.ts): one get + one CAS set per
// admitted request, whatever the number of limits. A CAS mismatch (another worker wrote in between) re-reads and re-decides, at most
// MAX_CAS_ATTEMPTS times; see docs/filter.md for what happens when they run out.

import {
  proxy_get_shared_data, proxy_set_shared_data, RESULT_CAS_MISMATCH, RESULT_OK,
} from "../abi/imports";
import { RET_CAS, clearRet, RET_LEN, RET_PTR } from "../abi/memory";
import { ab, abLen, sameBytes } from "../bytes";
import { Limit, Plan } from "../config/model";
import { elementAt } from "../element";
import { creditSetOthers, creditWrite, replacedAny, replacedLine, recordLine, recordPresent } from "./credit";
import {
  Decision, decide, decidePlain, ENTRY_BUFFER, entryAddCredit, entryCredit, entryHasBalance, entryInit, entryResize,
  entryScoped, entrySetOthers, entrySetOthersScoped, entryTotal, entryValid, hasKey, scopeSlotKey, usesCredits,
} from "./entry";
import { quotaShare } from "./primed";
import { SUBSCRIPTION_KEY_MAX, subscriptionKey, subscriptionKeyOf, subscriptionSplit } from "./subscription";

export const MAX_CAS_ATTEMPTS = 8;
const SYNC_CAS_ATTEMPTS = 32;
/**
 * CAS used to insert an entry only if it is still absent: Envoy inserts a missing key whatever the CAS, and an
 * existing key fails unless its CAS matches; real CAS values come from a counter starting at 1, so this one
 * does not collide in practice (0 would mean "unconditional" and lose races).
 */
export const INSERT_CAS: u32 = 0xffffffff;

export const ENFORCE_DECIDED = 0; // decision in `d`
export const ENFORCE_CONTENDED = 1;

const KEY = memory.data(<i32>SUBSCRIPTION_KEY_MAX);
const ENTRY = memory.data(<i32>ENTRY_BUFFER);
const NO_KEYS = new StaticArray<u32>(0);

// Set by readEntry: where the entry is (the host's copy in the callback arena, updated in place, or ENTRY).
let entryPtr: usize = 0;

/**
 * Reads the entry (a fresh one when absent or malformed) into entryPtr, with `scoped` scoped slots (-1: as it is);
 * an entry of another size (a plan change) is copied into ENTRY keeping the slots in `keys`. Returns the CAS to write
 * back with.
 */
@inline function readEntry(klen: usize, scoped: i32, keys: StaticArray<u32>): u32 {
  clearRet();
  const r = proxy_get_shared_data(KEY, klen, RET_PTR, RET_LEN, RET_CAS);
  if (r == RESULT_OK) {
    const p = <usize>load<u32>(RET_PTR);
    const n = <usize>load<u32>(RET_LEN);
    const cas = load<u32>(RET_CAS);
    if (entryValid(p, n)) {
      if (scoped < 0 || entryScoped(p) == scoped) {
        entryPtr = p; // ours until the callback returns: decide in place, no copy
      } else {
        entryResize(ENTRY, p, scoped, keys);
        entryPtr = ENTRY;
      }
    } else {
      entryInit(ENTRY, scoped < 0 ? 0 : scoped);
      entryPtr = ENTRY;
    }
    return cas;
  }
  entryInit(ENTRY, scoped < 0 ? 0 : scoped);
  entryPtr = ENTRY;
  return INSERT_CAS;
}

/** readEntry out of line, for the writers off the request path (one copy of it instead of one per caller). */
function readEntryCold(klen: usize, scoped: i32, keys: StaticArray<u32>): u32 { return readEntry(klen, scoped, keys); }

// The configured plans, for fleet windows of scoped limits (set at configure by root.ts).
let plans: Plan[] = [];
export function setQuotaPlans(p: Plan[]): void { plans = p; }

/**
 * Decides one request of the subscription (`plan`, consumer id) to API `api` and its operation `op` (-1: none, whose
 * default limits are `opLimits`) spending `units` (≥ 1: a request costing 0 never gets here, decision.ts FREE);
 * fills `d`. One get and one CAS set whatever the number of limits. Returns ENFORCE_CONTENDED when every CAS attempt
 * lost a race. Until the process is primed, hour/day/month limits are cut to the cold-start share.
 */
@inline export function enforceQuota(plan: Plan, consumer: usize, consumerLen: usize, api: i32, op: i32, opLimits: Limit[] | null, now: i64, d: Decision, units: u32 = 1): i32 {
  const limits = plan.limits;
  // Without limits only a credit balance (key feed on) can refuse: the entry is read to know whether it holds one.
  const unlimited = limits.length == 0 && opLimits == null;
  if (unlimited && !usesCredits()) {
    admitFree(d);
    return ENFORCE_DECIDED;
  }
  const klen = subscriptionKey(KEY, ab(plan.id), abLen(plan.id), consumer, consumerLen);
  if (klen == 0) return ENFORCE_CONTENDED; // ids are validated configuration ids: unreachable, but fail closed
  const share = quotaShare();
  const slots = plan.slots;
  const plain = plan.plain && opLimits == null;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cas = readEntry(klen, slots, plan.slotKeys);
    if (unlimited && !entryHasBalance(entryPtr)) {
      admitFree(d);
      return ENFORCE_DECIDED;
    }
    // An entry with a credit block takes decide(), which weighs the balance; decidePlain() stays as it was.
    if (plain && entryCredit(entryPtr) == 0) decidePlain(entryPtr, limits, now, d, share, units);
    else decide(entryPtr, limits, now, d, share, units, api, op, opLimits, plan.shadow);
    if (!d.admitted) return ENFORCE_DECIDED;
    const w = proxy_set_shared_data(KEY, klen, entryPtr, entryTotal(entryPtr), cas);
    if (w != RESULT_CAS_MISMATCH) return ENFORCE_DECIDED;
  }
  return ENFORCE_CONTENDED;
}

@inline function admitFree(d: Decision): void {
  d.admitted = true;
  d.hasLimit = false;
  d.shadow = null;
}

/** The configured plan with this id, or null. */
function planById(p: usize, n: usize): Plan | null {
  for (let i = 0; i < plans.length; i++) {
    const plan = elementAt(plans, i);
    if (abLen(plan.id) == n && sameBytes(ab(plan.id), p, n)) return plan;
  }
  return null;
}

/**
 * Stores the fleet's count for one window of a subscription given as "<planId>/<consumerId>" (global quota), of
 * `scope` ("<apiId>" or "<apiId>/<operationId>"; length 0 = the whole subscription). A scope no limit of the
 * subscription's plan uses under this configuration is ignored (true: nothing to store). Returns false when the
 * subscription is not valid or every attempt lost.
 */
export function storeOthers(sub: usize, subLen: usize, per: i32, windowStart: f64, others: u32, scope: usize = 0, scopeLen: usize = 0): bool {
  const klen = subscriptionKeyOf(KEY, sub, subLen);
  if (klen == 0) return false;
  let slots = -1, keys = NO_KEYS, key: u32 = 0;
  if (scopeLen > 0) {
    const plan = planById(sub, <usize>subscriptionSplit(sub, subLen)); // valid: subscriptionKeyOf checked it
    if (plan == null) return true;
    key = scopeSlotKey(scope, scopeLen, per);
    if (!hasKey(plan.slotKeys, key)) return true;
    slots = plan.slots;
    keys = plan.slotKeys;
  }
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cas = readEntryCold(klen, slots, keys);
    if (key == 0) entrySetOthers(entryPtr, per, windowStart, others);
    else if (!entrySetOthersScoped(entryPtr, key, per, windowStart, others)) return true; // every slot live: dropped
    const w = proxy_set_shared_data(KEY, klen, entryPtr, entryTotal(entryPtr), cas);
    if (w != RESULT_CAS_MISMATCH) return true;
  }
  return false;
}

/** Reads the entry of "<planId>/<consumerId>" with a credit block into ENTRY (copied: it may grow); 0 when invalid. */
function readCreditEntry(sub: usize, subLen: usize): u32 {
  const klen = subscriptionKeyOf(KEY, sub, subLen);
  keyLen = klen;
  if (klen == 0) return 0;
  const cas = readEntryCold(klen, -1, NO_KEYS);
  if (entryPtr != ENTRY) memory.copy(ENTRY, entryPtr, entryTotal(entryPtr));
  entryPtr = ENTRY;
  return cas;
}
let keyLen: usize = 0;

/**
 * Writes a credit balance record (keyfeed/page.ts) into its subscription's entry for key-set generation `stamp`
 * (quota/credit.ts creditWrite), then XORs the set digest at `acc`: the definition it replaced out, the new one in.
 * False when the subscription is not valid or shared data refused every attempt.
 */
export function storeCredit(sub: usize, subLen: usize, rec: usize, stamp: u32, served: u32, snapshot: bool, acc: usize): bool {
  if (!writeCredit(sub, subLen, rec, stamp, served, snapshot, 0, 0, 0)) return false;
  let x = load<u64>(acc);
  if (replacedAny) x ^= replacedLine;
  if (recordPresent(rec)) x ^= recordLine(rec);
  store<u64>(acc, x);
  return true;
}

/** Stores the fleet's spend against a grant (a CreditSpend of a key feed page or usage reply); false when not stored. */
export function storeCreditSpend(sub: usize, subLen: usize, grant: u64, from: f64, others: f64): bool {
  return writeCredit(sub, subLen, 0, 0, 0, false, grant, from, others);
}

/**
 * The CAS loop of both: a definition record (`rec` ≠ 0), else the fleet's spend, which is stored only when the entry
 * holds that grant (true: nothing to store). More attempts than a request's: the sync competes with the
 * subscription's traffic, and a lost write costs a snapshot.
 */
function writeCredit(sub: usize, subLen: usize, rec: usize, stamp: u32, served: u32, snapshot: bool, grant: u64, from: f64, others: f64): bool {
  const klen = subscriptionKeyOf(KEY, sub, subLen);
  if (klen == 0) return false;
  for (let attempt = 0; attempt < SYNC_CAS_ATTEMPTS; attempt++) {
    const cas = readEntryCold(klen, -1, NO_KEYS);
    // Copied: the entry may grow by its credit block.
    if (entryPtr != ENTRY) memory.copy(ENTRY, entryPtr, entryTotal(entryPtr));
    if (rec != 0) {
      creditWrite(entryAddCredit(ENTRY), rec, stamp, served, snapshot);
    } else {
      const c = entryCredit(ENTRY);
      if (c == 0 || !creditSetOthers(c, grant, from, others)) return true;
    }
    const w = proxy_set_shared_data(KEY, klen, ENTRY, entryTotal(ENTRY), cas);
    if (w != RESULT_CAS_MISMATCH) return w == RESULT_OK;
  }
  return false;
}
