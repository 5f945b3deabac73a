// Quota enforcement against the key's shared-data entry: one get + one CAS set per admitted request, whatever the
// number of limits. A CAS mismatch (another worker wrote in between) re-reads and re-decides, at most
// MAX_CAS_ATTEMPTS times; see docs/filter.md for what happens when they run out.

import {
  proxy_get_shared_data, proxy_set_shared_data, RESULT_CAS_MISMATCH, RESULT_OK,
} from "../abi/imports";
import { OUT_CAS, clearOut, OUT_LEN, OUT_PTR } from "../abi/memory";
import { Limit } from "../config/model";
import { copyBytes } from "../bytes";
import { Decision, decide, ENTRY_SIZE, entryInit, entrySetOthers, entryValid } from "./entry";

export const MAX_CAS_ATTEMPTS = 8;
/**
 * CAS used to insert an entry only if it is still absent: Envoy inserts a missing key whatever the CAS, and an
 * existing key fails unless its CAS matches; real CAS values come from a counter starting at 1, so this one
 * does not collide in practice (0 would mean "unconditional" and lose races).
 */
export const INSERT_CAS: u32 = 0xffffffff;

export const ENFORCE_DECIDED = 0; // decision in `d`
export const ENFORCE_CONTENDED = 1;

const KEY = memory.data(8 + 64);
const ENTRY = memory.data(<i32>ENTRY_SIZE);

/** Writes "tg:q:<keyId>" to the key buffer; returns its length (0 for an id longer than 64 bytes). */
function entryKey(keyId: usize, keyIdLen: usize): usize {
  if (keyIdLen > 64) return 0;
  store<u8>(KEY, 0x74); store<u8>(KEY, 0x67, 1); store<u8>(KEY, 0x3a, 2); store<u8>(KEY, 0x71, 3); store<u8>(KEY, 0x3a, 4);
  copyBytes(KEY + 5, keyId, keyIdLen);
  return 5 + keyIdLen;
}

// Set by readEntry: where the entry is (the host's copy in the callback arena, updated in place, or ENTRY).
let entryPtr: usize = 0;

/** Reads the entry (a fresh one when absent or malformed) into entryPtr; returns the CAS to write back with. */
function readEntry(klen: usize): u32 {
  clearOut();
  const r = proxy_get_shared_data(KEY, klen, OUT_PTR, OUT_LEN, OUT_CAS);
  if (r == RESULT_OK) {
    const p = <usize>load<u32>(OUT_PTR);
    const n = <usize>load<u32>(OUT_LEN);
    const cas = load<u32>(OUT_CAS);
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

/** Decides one request for a key; fills `d`. Returns ENFORCE_CONTENDED when every CAS attempt lost a race. */
export function enforceQuota(keyId: usize, keyIdLen: usize, limits: Limit[], now: i64, d: Decision): i32 {
  if (limits.length == 0) {
    d.admitted = true;
    d.hasLimit = false;
    return ENFORCE_DECIDED;
  }
  const klen = entryKey(keyId, keyIdLen);
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cas = readEntry(klen);
    decide(entryPtr, limits, now, d);
    if (!d.admitted) return ENFORCE_DECIDED;
    const w = proxy_set_shared_data(KEY, klen, entryPtr, ENTRY_SIZE, cas);
    if (w != RESULT_CAS_MISMATCH) return ENFORCE_DECIDED;
  }
  return ENFORCE_CONTENDED;
}

/** Stores the fleet's count for one window of a key (global quota). Returns false when every attempt lost. */
export function storeOthers(keyId: usize, keyIdLen: usize, per: i32, windowStart: f64, others: u32): bool {
  const klen = entryKey(keyId, keyIdLen);
  if (klen == 0) return false;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cas = readEntry(klen);
    entrySetOthers(entryPtr, per, windowStart, others);
    const w = proxy_set_shared_data(KEY, klen, entryPtr, ENTRY_SIZE, cas);
    if (w != RESULT_CAS_MISMATCH) return true;
  }
  return false;
}
