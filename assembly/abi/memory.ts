// Memory the host writes returned data into. Every returning host call re-enters the guest through `malloc`; a
// general allocator there would allocate on every request, so small requests are bump-allocated from a fixed arena
// that is reset at the start of each callback (nothing the host returns is kept across callbacks: what must
// survive is copied). Larger requests fall back to the heap and are freed at the next reset.

const ARENA_SIZE: usize = 128 * 1024;
const MAX_SPILLS = 64;

let arena: usize = 0;
let arenaTop: usize = 0;
const spills = new StaticArray<usize>(MAX_SPILLS);
let spillCount = 0;

/**
 * Return slots: where a host call writes what it returns (ptr and len of copied data, a CAS, a time). RET_ for
 * these, so they are not confused with usage outcomes (usage/counters.ts OUTCOME_*).
 */
export const RET_PTR = memory.data(8);
export const RET_LEN = memory.data(8);
export const RET_CAS = memory.data(8);
export const RET_U64 = memory.data(8);

/**
 * Zeroes the ptr/len return slots before a host call that returns data: Envoy leaves them untouched when there is
 * nothing to copy, and a stale pointer from an earlier call must never be read as this call's answer.
 */
@inline export function clearRet(): void {
  store<u64>(RET_PTR, 0);
  store<u64>(RET_LEN, 0);
}

export function guestAlloc(size: usize): usize {
  if (arena == 0) arena = heap.alloc(ARENA_SIZE);
  const aligned = (size + 7) & ~<usize>7;
  if (aligned <= ARENA_SIZE - arenaTop) {
    const p = arena + arenaTop;
    arenaTop += aligned;
    return p;
  }
  const p = heap.alloc(size == 0 ? 1 : size);
  if (spillCount < MAX_SPILLS) {
    unchecked(spills[spillCount++] = p);
  }
  // Past MAX_SPILLS the block is leaked rather than risk freeing memory still in use; one callback never makes
  // that many large host calls.
  return p;
}

/**
 * A point in the arena to come back to: a loop that makes thousands of data-returning host calls in one callback
 * (the key feed's sync: a bucket read per key of a page) releases each call's copy once done with it, instead of
 * exhausting the arena and spilling (past MAX_SPILLS, leaking) a heap block per call.
 */
export function arenaMark(): u64 {
  return (<u64>spillCount << 32) | <u64>arenaTop;
}

/** Frees what the host returned since `mark` (nothing allocated since then may be used afterwards). */
export function arenaRelease(mark: u64): void {
  const keep = <i32>(mark >>> 32);
  for (let i = keep; i < spillCount; i++) heap.free(unchecked(spills[i]));
  if (keep < spillCount) spillCount = keep;
  arenaTop = <usize>(mark & 0xffffffff);
}

/** Called at the start of every callback: forget what the host returned during the previous one. */
export function resetArena(): void {
  arenaTop = 0;
  for (let i = 0; i < spillCount; i++) heap.free(unchecked(spills[i]));
  spillCount = 0;
}
