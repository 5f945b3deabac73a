// Per-stream state for allowed requests (what the response side and on_log need), in a preallocated slab with an
// open-addressing index by context id: O(1) whatever the number of live streams, no allocation per request
// (the slab and index only grow, by doubling, when live streams exceed their capacity).

import { zero8 } from "./bytes";

export const REC_SIZE: usize = 160;
// Record layout.
export const S_CTX = 0;        // u32 context id (0 = free)
export const S_FLAGS = 4;      // u32 flags below
export const S_MINUTE = 8;     // f64 minute of the decision
export const S_RL_LIMIT = 16;  // u32
export const S_RL_REMAINING = 20; // u32
export const S_RL_RESET = 24;  // u32
export const S_STATUS = 28;    // u16 upstream status
export const S_KEY_LEN = 30;   // u8
export const S_API_LEN = 31;   // u8
export const S_KEY = 32;       // 64 bytes key id
export const S_API = 96;       // 64 bytes API id

export const F_ALLOWED: u32 = 1;
export const F_RATELIMIT: u32 = 2;

let slab: usize = 0;
let capacity: i32 = 0;
let freeTop: i32 = 0;
let freeList = new StaticArray<i32>(0);
let index = new StaticArray<i32>(0); // slot → record + 1
let mask: u32 = 0;

function ensure(): void {
  if (slab == 0) grow(256);
}

function grow(newCap: i32): void {
  const ns = heap.alloc(<usize>newCap * REC_SIZE);
  memory.fill(ns, 0, <usize>newCap * REC_SIZE);
  if (slab != 0) {
    memory.copy(ns, slab, <usize>capacity * REC_SIZE);
    heap.free(slab);
  }
  const nf = new StaticArray<i32>(newCap);
  // Free records: the new ones (old free entries are re-derived: every old record is in use when we grow).
  let top = 0;
  for (let i = newCap - 1; i >= capacity; i--) unchecked(nf[top++] = i);
  for (let i = 0; i < freeTop; i++) unchecked(nf[top++] = freeList[i]);
  slab = ns;
  capacity = newCap;
  freeList = nf;
  freeTop = top;
  rebuildIndex(newCap * 2);
}

function rebuildIndex(slots: i32): void {
  index = new StaticArray<i32>(slots);
  mask = <u32>slots - 1;
  for (let r = 0; r < capacity; r++) {
    const id = load<u32>(slab + <usize>r * REC_SIZE, S_CTX);
    if (id != 0) insertIndex(id, r);
  }
}

@inline function hash(id: u32): u32 {
  return (id * 0x9e3779b1) >>> 7;
}

function insertIndex(id: u32, rec: i32): void {
  let s = hash(id) & mask;
  while (unchecked(index[s]) != 0) s = (s + 1) & mask;
  unchecked(index[s] = rec + 1);
}

function findSlot(id: u32): i32 {
  if (slab == 0) return -1;
  let s = hash(id) & mask;
  while (true) {
    const v = unchecked(index[s]);
    if (v == 0) return -1;
    if (load<u32>(slab + <usize>(v - 1) * REC_SIZE, S_CTX) == id) return <i32>s;
    s = (s + 1) & mask;
  }
}

/** Record address for a context, or 0. */
export function streamGet(id: u32): usize {
  const s = findSlot(id);
  return s < 0 ? 0 : slab + <usize>(unchecked(index[s]) - 1) * REC_SIZE;
}

/** A zeroed record for a context (existing one reused). */
export function streamAcquire(id: u32): usize {
  ensure();
  const existing = streamGet(id);
  if (existing != 0) return existing;
  if (freeTop == 0) grow(capacity * 2);
  const r = unchecked(freeList[--freeTop]);
  const p = slab + <usize>r * REC_SIZE;
  zero8(p, REC_SIZE);
  store<u32>(p, id, S_CTX);
  insertIndex(id, r);
  return p;
}

/** Frees a context's record (backward-shift deletion keeps probe chains intact without tombstones). */
export function streamRelease(id: u32): void {
  let s = findSlot(id);
  if (s < 0) return;
  const rec = unchecked(index[s]) - 1;
  store<u32>(slab + <usize>rec * REC_SIZE, 0, S_CTX);
  unchecked(freeList[freeTop++] = rec);
  let j = <u32>s;
  while (true) {
    unchecked(index[j] = 0);
    let k = j;
    while (true) {
      k = (k + 1) & mask;
      const v = unchecked(index[k]);
      if (v == 0) return;
      const home = hash(load<u32>(slab + <usize>(v - 1) * REC_SIZE, S_CTX)) & mask;
      // Move v back to j unless its home lies cyclically in (j, k].
      const inRange = j <= k ? (home > j && home <= k) : (home > j || home <= k);
      if (!inRange) {
        unchecked(index[j] = v);
        j = k;
        break;
      }
    }
  }
}
