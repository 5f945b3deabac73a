// The ABI's header-pairs encoding: u32 N; N × (u32 keyLen, u32 valueLen); N × (key 0x00 value 0x00).
// Reading fills a fixed table of (ptr, len) views into host-written memory; writing appends into a growable buffer
// that is reused across requests. Malformed input from the host reads as an empty list, never a trap.

import { copyBytes } from "../bytes";

export const MAX_PAIRS = 1024;

/** Views of the pairs last decoded: per entry keyPtr, keyLen, valuePtr, valueLen. */
export class PairTable {
  /** Raw memory (16 bytes per pair), not a StaticArray: plain loads/stores on the hot path. */
  private readonly v: usize = heap.alloc(MAX_PAIRS * 16);
  count: i32 = 0;

  @inline keyPtr(i: i32): usize { return <usize>load<u32>(this.v + (<usize>i << 4)); }
  @inline keyLen(i: i32): usize { return <usize>load<u32>(this.v + (<usize>i << 4), 4); }
  @inline valuePtr(i: i32): usize { return <usize>load<u32>(this.v + (<usize>i << 4), 8); }
  @inline valueLen(i: i32): usize { return <usize>load<u32>(this.v + (<usize>i << 4), 12); }

  /** Decodes `len` bytes at `ptr`; returns false (and an empty table) when they are not well-formed pairs. */
  decode(ptr: usize, len: usize): bool {
    this.count = 0;
    if (ptr == 0 || len < 4) return len == 0;
    const n = load<u32>(ptr);
    if (n > <u32>MAX_PAIRS) return false;
    const header = 4 + <u64>n * 8;
    if (header > <u64>len) return false;
    let data: u64 = header;
    for (let i: u32 = 0; i < n; i++) {
      const kl = load<u32>(ptr + 4 + (<usize>i << 3));
      const vl = load<u32>(ptr + 8 + (<usize>i << 3));
      const need = data + <u64>kl + <u64>vl + 2;
      if (need > <u64>len) { this.count = 0; return false; }
      const k = ptr + <usize>data;
      const v = k + kl + 1;
      if (load<u8>(k + kl) != 0 || load<u8>(v + vl) != 0) { this.count = 0; return false; }
      const e = this.v + (<usize>i << 4);
      store<u32>(e, <u32>k);
      store<u32>(e, kl, 4);
      store<u32>(e, <u32>v, 8);
      store<u32>(e, vl, 12);
      data = need;
    }
    this.count = <i32>n;
    return true;
  }

  /** Index of the first pair whose key equals the given bytes, or -1. */
  find(kPtr: usize, kLen: usize): i32 {
    for (let i = 0; i < this.count; i++) {
      if (this.keyLen(i) == kLen && memory.compare(this.keyPtr(i), kPtr, kLen) == 0) return i;
    }
    return -1;
  }
}

/** Builds a pairs block. Headers are staged (views), then `finish` lays them out in one reusable buffer. */
export class PairWriter {
  private readonly views: usize = heap.alloc(MAX_PAIRS * 16);
  private n: i32 = 0;
  private buf: usize = 0;
  private cap: usize = 0;
  /** Set by finish(). */
  ptr: usize = 0;
  len: usize = 0;

  reset(): void { this.n = 0; }

  get count(): i32 { return this.n; }

  /** Stages one header; the memory behind both views must stay valid until finish(). Past MAX_PAIRS it is ignored. */
  add(kPtr: usize, kLen: usize, vPtr: usize, vLen: usize): void {
    if (this.n >= MAX_PAIRS) return;
    const e = this.views + (<usize>this.n << 4);
    store<u32>(e, <u32>kPtr);
    store<u32>(e, <u32>kLen, 4);
    store<u32>(e, <u32>vPtr, 8);
    store<u32>(e, <u32>vLen, 12);
    this.n++;
  }

  finish(): void {
    let total: usize = 4 + (<usize>this.n << 3);
    for (let i = 0; i < this.n; i++) {
      const e = this.views + (<usize>i << 4);
      total += <usize>load<u32>(e, 4) + <usize>load<u32>(e, 12) + 2;
    }
    if (total > this.cap) {
      // Grows rarely (only for unusually large header sets) and is then reused.
      if (this.buf != 0) heap.free(this.buf);
      this.cap = total < 8192 ? 8192 : total * 2;
      this.buf = heap.alloc(this.cap);
    }
    const p = this.buf;
    store<u32>(p, <u32>this.n);
    let data = p + 4 + (<usize>this.n << 3);
    for (let i = 0; i < this.n; i++) {
      const e = this.views + (<usize>i << 4);
      const kl = <usize>load<u32>(e, 4);
      const vl = <usize>load<u32>(e, 12);
      store<u32>(p + 4 + (<usize>i << 3), <u32>kl);
      store<u32>(p + 8 + (<usize>i << 3), <u32>vl);
      copyBytes(data, <usize>load<u32>(e), kl);
      data += kl;
      store<u8>(data++, 0);
      copyBytes(data, <usize>load<u32>(e, 8), vl);
      data += vl;
      store<u8>(data++, 0);
    }
    this.ptr = p;
    this.len = total;
  }
}
