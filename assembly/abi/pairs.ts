// The ABI's header-pairs encoding: u32 N; N × (u32 keyLen, u32 valueLen); N × (key 0x00 value 0x00).
// Reading fills a fixed table of (ptr, len) views into host-written memory; writing appends into a growable buffer
// that is reused across requests. Malformed input from the host reads as an empty list, never a trap.

import { copyBytes, copyShort } from "../bytes";

export const MAX_PAIRS = 1024;

/** What PairWriter.finishFrom does with a decoded pair. */
export const PAIR_KEEP: u8 = 0;
export const PAIR_SKIP: u8 = 1;
export const PAIR_REPLACE: u8 = 2;

/**
 * Views of the pairs last decoded: per entry keyPtr, keyLen, valuePtr, valueLen. No lookup by name and no hash
 * index: a request has a few dozen headers at most (Envoy's default limit is 100), an index built per request would
 * cost more than it saves, and the request path reads every header once anyway (http/request.ts scanHeaders).
 */
export class PairTable {
  /** Raw memory (16 bytes per pair), not a StaticArray: plain loads/stores on the hot path. */
  private readonly v: usize = heap.alloc(MAX_PAIRS * 16);
  /** Per pair: PAIR_KEEP / PAIR_SKIP / PAIR_REPLACE, reset by decode. */
  private readonly ops: usize = heap.alloc(MAX_PAIRS);
  count: i32 = 0;
  /** The decoded block (sizes at src + 4 + 8i; data contiguous, in order). */
  src: usize = 0;
  replacePtr: usize = 0;
  replaceLen: usize = 0;
  /** Pairs not skipped, and the bytes their data takes encoded (key, value, two NULs): kept up to date by skip/replace. */
  keptCount: i32 = 0;
  keptBytes: usize = 0;

  @inline op(i: i32): u8 { return load<u8>(this.ops + <usize>i); }

  /** The end of the run of kept pairs from i: the first pair after i not kept, or count. Eight ops at a time. */
  @inline runEnd(i: i32): i32 {
    const n = this.count;
    let j = i + 1;
    while (j < n) {
      if (j + 8 > MAX_PAIRS) {
        if (this.op(j) != PAIR_KEEP) break;
        j++;
        continue;
      }
      // PAIR_KEEP is 0: the first non-zero byte ends the run (ops past count are cut off below).
      const w = load<u64>(this.ops + <usize>j);
      if (w != 0) { j += <i32>(ctz<u64>(w) >> 3); break; }
      j += 8;
    }
    return j < n ? j : n;
  }

  /** Leaves pair i out of what finishFrom writes. */
  @inline skip(i: i32): void {
    const op = this.op(i);
    if (op == PAIR_SKIP) return;
    this.keptCount--;
    this.keptBytes -= this.keyLen(i) + (op == PAIR_REPLACE ? this.replaceLen : this.valueLen(i)) + 2;
    store<u8>(this.ops + <usize>i, PAIR_SKIP);
  }

  /**
   * Replaces the value of pair i, which must be kept (one replacement per table; the bytes must stay valid until the
   * writer finishes).
   */
  replace(i: i32, ptr: usize, len: usize): void {
    if (this.op(i) != PAIR_KEEP) return;
    store<u8>(this.ops + <usize>i, PAIR_REPLACE);
    this.replacePtr = ptr;
    this.replaceLen = len;
    this.keptBytes = this.keptBytes - this.valueLen(i) + len;
  }

  @inline keyPtr(i: i32): usize { return <usize>load<u32>(this.v + (<usize>i << 4)); }
  @inline keyLen(i: i32): usize { return <usize>load<u32>(this.v + (<usize>i << 4), 4); }
  @inline valuePtr(i: i32): usize { return <usize>load<u32>(this.v + (<usize>i << 4), 8); }
  @inline valueLen(i: i32): usize { return <usize>load<u32>(this.v + (<usize>i << 4), 12); }

  /** Decodes `len` bytes at `ptr`; returns false (and an empty table) when they are not well-formed pairs. */
  decode(ptr: usize, len: usize): bool {
    this.count = 0;
    this.keptCount = 0;
    this.keptBytes = 0;
    this.src = ptr;
    if (ptr == 0 || len < 4) return len == 0;
    const n = load<u32>(ptr);
    if (n > <u32>MAX_PAIRS) return false;
    const header = 4 + <u64>n * 8;
    if (header > <u64>len) return false;
    // Fields in locals: the loop stores to memory, so the compiler would reload them on every pass.
    const views = this.v, ops = this.ops;
    let data: u64 = header;
    for (let i: u32 = 0; i < n; i++) {
      const kl = load<u32>(ptr + 4 + (<usize>i << 3));
      const vl = load<u32>(ptr + 8 + (<usize>i << 3));
      const need = data + <u64>kl + <u64>vl + 2;
      if (need > <u64>len) return false;
      const k = ptr + <usize>data;
      const v = k + kl + 1;
      if (load<u8>(k + kl) != 0 || load<u8>(v + vl) != 0) return false;
      const e = views + (<usize>i << 4);
      store<u32>(e, <u32>k);
      store<u32>(e, kl, 4);
      store<u32>(e, <u32>v, 8);
      store<u32>(e, vl, 12);
      store<u8>(ops + <usize>i, PAIR_KEEP);
      data = need;
    }
    this.count = <i32>n;
    this.keptCount = <i32>n;
    this.keptBytes = <usize>(data - header);
    return true;
  }
}

/** Builds a pairs block. Headers are staged (views), then `finish` lays them out in one reusable buffer. */
export class PairWriter {
  private readonly views: usize = heap.alloc(MAX_PAIRS * 16);
  private n: i32 = 0;
  /** Encoded size of the staged headers' data (keys, values, NULs). */
  private stagedBytes: usize = 0;
  private buf: usize = 0;
  private cap: usize = 0;
  /** Set by finish(). */
  ptr: usize = 0;
  len: usize = 0;

  @inline reset(): void {
    this.n = 0;
    this.stagedBytes = 0;
  }

  get count(): i32 { return this.n; }

  /** Stages one header; the memory behind both views must stay valid until finish(). Past MAX_PAIRS it is ignored. */
  @inline add(kPtr: usize, kLen: usize, vPtr: usize, vLen: usize): void {
    if (this.n >= MAX_PAIRS) return;
    const e = this.views + (<usize>this.n << 4);
    store<u32>(e, <u32>kPtr);
    store<u32>(e, <u32>kLen, 4);
    store<u32>(e, <u32>vPtr, 8);
    store<u32>(e, <u32>vLen, 12);
    this.n++;
    this.stagedBytes += kLen + vLen + 2;
  }

  @inline private ensure(total: usize): void {
    if (total > this.cap) {
      // Grows rarely (only for unusually large header sets) and is then reused.
      if (this.buf != 0) heap.free(this.buf);
      this.cap = total < 8192 ? 8192 : total * 2;
      this.buf = heap.alloc(this.cap);
    }
  }

  /** Writes the staged headers' sizes at `sp` and data at `dp`. */
  private writeStaged(sp: usize, dp: usize): void {
    const views = this.views, n = this.n;
    for (let i = 0; i < n; i++) {
      const e = views + (<usize>i << 4);
      const kl = <usize>load<u32>(e, 4);
      const vl = <usize>load<u32>(e, 12);
      store<u32>(sp + (<usize>i << 3), <u32>kl);
      store<u32>(sp + (<usize>i << 3), <u32>vl, 4);
      copyShort(dp, <usize>load<u32>(e), kl);
      dp += kl;
      store<u8>(dp++, 0);
      copyShort(dp, <usize>load<u32>(e, 8), vl);
      dp += vl;
      store<u8>(dp++, 0);
    }
  }

  /**
   * Lays out the decoded pairs of `t` (minus skipped ones, with the replaced value) followed by the staged headers.
   * Runs of kept pairs are copied in bulk (their sizes and their data are contiguous in the host's block), which is
   * what makes rewriting a whole header map cheap when only a header or two change; the sizes are known up front
   * (the table keeps count of what it keeps), so the table is walked once.
   */
  finishFrom(t: PairTable): void {
    const count = t.keptCount + this.n;
    const total: usize = 4 + (<usize>count << 3) + t.keptBytes + this.stagedBytes;
    this.ensure(total);
    const p = this.buf;
    store<u32>(p, <u32>count);
    let sp = p + 4;
    let dp = p + 4 + (<usize>count << 3);
    const tc = t.count;
    let i = 0;
    while (i < tc) {
      const op = t.op(i);
      if (op == PAIR_KEEP) {
        const j = t.runEnd(i);
        const sizes = <usize>(j - i) << 3;
        copyBytes(sp, t.src + 4 + (<usize>i << 3), sizes);
        sp += sizes;
        const from = t.keyPtr(i);
        const to = t.valuePtr(j - 1) + t.valueLen(j - 1) + 1;
        copyBytes(dp, from, to - from);
        dp += to - from;
        i = j;
      } else {
        if (op == PAIR_REPLACE) {
          const kl = t.keyLen(i);
          store<u32>(sp, <u32>kl);
          store<u32>(sp, <u32>t.replaceLen, 4);
          sp += 8;
          copyShort(dp, t.keyPtr(i), kl);
          dp += kl;
          store<u8>(dp++, 0);
          copyBytes(dp, t.replacePtr, t.replaceLen);
          dp += t.replaceLen;
          store<u8>(dp++, 0);
        }
        i++;
      }
    }
    this.writeStaged(sp, dp);
    this.ptr = p;
    this.len = total;
  }

  /** Lays out the staged headers only. */
  finish(): void {
    const total: usize = 4 + (<usize>this.n << 3) + this.stagedBytes;
    this.ensure(total);
    const p = this.buf;
    store<u32>(p, <u32>this.n);
    this.writeStaged(p + 4, p + 4 + (<usize>this.n << 3));
    this.ptr = p;
    this.len = total;
  }
}
