// Per-stream state for allowed requests (what the response side and on_log need), in a preallocated slab indexed by
// context id (hashindex.ts): O(1) whatever the number of live streams, no allocation per request (the slab and
// index only grow, by doubling, when live streams exceed their capacity).

import { HashIndex } from "./hashindex";

export const REC_SIZE: usize = 376;
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
export const S_UNITS = 160;    // u32 units the request spent (its operation's cost; 1 without operations)
export const S_RL_WINDOW = 164; // u32 window seconds of the limit in the RateLimit headers (F_IETF only)
export const S_OP_LEN = 168;   // u8 operation id length (0: none)
export const S_LID_LEN = 169;  // u8 limit id length (F_IETF only)
export const S_OP = 172;       // 64 bytes operation id
export const S_LID = 236;      // 136 bytes limit id (F_IETF only)

export const F_ALLOWED: u32 = 1;
export const F_RATELIMIT: u32 = 2;
/** A shadow limit would have rejected the request (usage `wouldReject`). (4 is response.ts's F_COUNTED.) */
export const F_WOULD_REJECT: u32 = 8;
/** With F_RATELIMIT: the IETF RateLimit-Policy + RateLimit fields / the legacy RateLimit-* headers. */
export const F_IETF: u32 = 16;
export const F_LEGACY: u32 = 32;

let slab: usize = 0;
let capacity: i32 = 0;
let freeTop: i32 = 0;
let freeList = new StaticArray<i32>(0);
/** Context id → record. The id itself is the stored hash: ids are unique, so a hit needs no record compare. */
const index = new HashIndex();
// The last stream looked up: a stream's callbacks often follow each other, so most lookups end here.
let lastId: u32 = 0;
let lastRec: usize = 0;

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
  lastId = 0;
  freeList = nf;
  freeTop = top;
  index.reset(newCap);
  for (let r = 0; r < capacity; r++) {
    const id = load<u32>(slab + <usize>r * REC_SIZE, S_CTX);
    if (id != 0) index.insert(id, r);
  }
}

/** Record address for a context, or 0. */
@inline export function streamGet(id: u32): usize {
  if (id == lastId && id != 0) return lastRec;
  const r = index.first(id);
  if (r < 0) return 0;
  lastId = id;
  lastRec = slab + <usize>r * REC_SIZE;
  return lastRec;
}

/**
 * A record for a context (an existing one is reused as it is). A new one is zeroed up to S_KEY: the key and API ids
 * are written by the caller with their lengths, and nothing reads past those.
 */
@inline export function streamAcquire(id: u32): usize {
  if (slab == 0) grow(256);
  const existing = streamGet(id);
  if (existing != 0) return existing;
  if (freeTop == 0) grow(capacity * 2);
  const r = unchecked(freeList[--freeTop]);
  const p = slab + <usize>r * REC_SIZE;
  // Bytes 8 … S_KEY: minute, RateLimit values, status, id lengths; the operation id's length.
  store<u64>(p, 0, 8); store<u64>(p, 0, 16); store<u64>(p, 0, 24);
  store<u16>(p, 0, S_OP_LEN);
  store<u32>(p, id, S_CTX);
  store<u32>(p, 0, S_FLAGS);
  index.insert(id, r);
  lastId = id;
  lastRec = p;
  return p;
}

/** Frees a context's record. */
export function streamRelease(id: u32): void {
  let r: i32;
  if (id == lastId && id != 0) {
    r = <i32>((lastRec - slab) / REC_SIZE);
    lastId = 0;
  } else {
    r = index.first(id);
    if (r < 0) return;
  }
  store<u32>(slab + <usize>r * REC_SIZE, 0, S_CTX);
  unchecked(freeList[freeTop++] = r);
  index.remove(id, r);
}
