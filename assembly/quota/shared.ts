// Quota enforcement against the subscription's shared-data entry (quota/subscription.ts): one get + one CAS set per
// admitted request, whatever the number of limits. A CAS mismatch (another worker wrote in between) re-reads and re-decides, at most
// MAX_CAS_ATTEMPTS times; see docs/filter.md for what happens when they run out.

import {
  proxy_get_shared_data, proxy_set_shared_data, RESULT_CAS_MISMATCH, RESULT_OK,
} from "../abi/imports";
import { RET_CAS, clearRet, RET_LEN, RET_PTR } from "../abi/memory";
import { Limit } from "../config/model";
import { Decision, decide, ENTRY_SIZE, entryInit, entrySetOthers, entryValid } from "./entry";
import { quotaShare } from "./primed";
import { SUBSCRIPTION_KEY_MAX, subscriptionKey, subscriptionKeyOf } from "./subscription";

export const MAX_CAS_ATTEMPTS = 8;
/**
 * CAS used to insert an entry only if it is still absent: Envoy inserts a missing key whatever the CAS, and an
 * existing key fails unless its CAS matches; real CAS values come from a counter starting at 1, so this one
 * does not collide in practice (0 would mean "unconditional" and lose races).
 */
export const INSERT_CAS: u32 = 0xffffffff;

export const ENFORCE_DECIDED = 0; // decision in `d`
export const ENFORCE_CONTENDED = 1;

const KEY = memory.data(<i32>SUBSCRIPTION_KEY_MAX);
const ENTRY = memory.data(<i32>ENTRY_SIZE);

// Set by readEntry: where the entry is (the host's copy in the callback arena, updated in place, or ENTRY).
let entryPtr: usize = 0;

/** Reads the entry (a fresh one when absent or malformed) into entryPtr; returns the CAS to write back with. */
@inline function readEntry(klen: usize): u32 {
  clearRet();
  const r = proxy_get_shared_data(KEY, klen, RET_PTR, RET_LEN, RET_CAS);
  if (r == RESULT_OK) {
    const p = <usize>load<u32>(RET_PTR);
    const n = <usize>load<u32>(RET_LEN);
    const cas = load<u32>(RET_CAS);
    if (entryValid(p, n)) {
      entryPtr = p; // ours until the callback returns: decide in place, no copy
    } else {
      entryInit(ENTRY);
      entryPtr = ENTRY;
    }
    return cas;
  }
  entryInit(ENTRY);
  entryPtr = ENTRY;
  return INSERT_CAS;
}

/**
 * Decides one request of the subscription (plan id, consumer id) spending `units` (≥ 1: a request costing 0 never
 * gets here, decision.ts FREE); fills `d`. Returns ENFORCE_CONTENDED when every
 * CAS attempt lost a race. Until the process is primed, hour/day/month limits are cut to the cold-start share.
 */
@inline export function enforceQuota(plan: usize, planLen: usize, consumer: usize, consumerLen: usize, limits: Limit[], now: i64, d: Decision, units: u32 = 1): i32 {
  if (limits.length == 0) {
    d.admitted = true;
    d.hasLimit = false;
    return ENFORCE_DECIDED;
  }
  const klen = subscriptionKey(KEY, plan, planLen, consumer, consumerLen);
  if (klen == 0) return ENFORCE_CONTENDED; // ids are validated configuration ids: unreachable, but fail closed
  const share = quotaShare();
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cas = readEntry(klen);
    decide(entryPtr, limits, now, d, share, units);
    if (!d.admitted) return ENFORCE_DECIDED;
    const w = proxy_set_shared_data(KEY, klen, entryPtr, ENTRY_SIZE, cas);
    if (w != RESULT_CAS_MISMATCH) return ENFORCE_DECIDED;
  }
  return ENFORCE_CONTENDED;
}

/**
 * Stores the fleet's count for one window of a subscription given as "<planId>/<consumerId>" (global quota).
 * Returns false when the subscription is not valid or every attempt lost.
 */
export function storeOthers(sub: usize, subLen: usize, per: i32, windowStart: f64, others: u32): bool {
  const klen = subscriptionKeyOf(KEY, sub, subLen);
  if (klen == 0) return false;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cas = readEntry(klen);
    entrySetOthers(entryPtr, per, windowStart, others);
    const w = proxy_set_shared_data(KEY, klen, entryPtr, ENTRY_SIZE, cas);
    if (w != RESULT_CAS_MISMATCH) return true;
  }
  return false;
}
