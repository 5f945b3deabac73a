// The ABI's header-pairs encoding: u32 N; N × (u32 keyLen, u32 valueLen); N × (key 0x00 value 0x00).
// Reading fills a fixed table of (ptr, len) views into host-written memory; writing appends into a growable buffer
// that is reused across requests. Malformed input from the host reads as an empty list, never a trap.

export const MAX_PAIRS = 1024;

/** Views of the pairs last decoded: per entry keyPtr, keyLen, valuePtr, valueLen. */
export class PairTable {
  readonly v: StaticArray<u32> = new StaticArray<u32>(MAX_PAIRS * 4);
  count: i32 = 0;

  @inline keyPtr(i: i32): usize { return <usize>unchecked(this.v[i << 2]); }
  @inline keyLen(i: i32): usize { return <usize>unchecked(this.v[(i << 2) + 1]); }
  @inline valuePtr(i: i32): usize { return <usize>unchecked(this.v[(i << 2) + 2]); }
  @inline valueLen(i: i32): usize { return <usize>unchecked(this.v[(i << 2) + 3]); }

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
      const j = <i32>i << 2;
      unchecked(this.v[j] = <u32>k);
      unchecked(this.v[j + 1] = kl);
      unchecked(this.v[j + 2] = <u32>v);
      unchecked(this.v[j + 3] = vl);
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
  private views: StaticArray<u32> = new StaticArray<u32>(MAX_PAIRS * 4);
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
    const j = this.n << 2;
    unchecked(this.views[j] = <u32>kPtr);
    unchecked(this.views[j + 1] = <u32>kLen);
    unchecked(this.views[j + 2] = <u32>vPtr);
    unchecked(this.views[j + 3] = <u32>vLen);
    this.n++;
  }

  finish(): void {
    let total: usize = 4 + (<usize>this.n << 3);
    for (let i = 0; i < this.n; i++) {
      total += <usize>unchecked(this.views[(i << 2) + 1]) + <usize>unchecked(this.views[(i << 2) + 3]) + 2;
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
      const j = i << 2;
      const kl = <usize>unchecked(this.views[j + 1]);
      const vl = <usize>unchecked(this.views[j + 3]);
      store<u32>(p + 4 + (<usize>i << 3), <u32>kl);
      store<u32>(p + 8 + (<usize>i << 3), <u32>vl);
      memory.copy(data, <usize>unchecked(this.views[j]), kl);
      data += kl;
      store<u8>(data++, 0);
      memory.copy(data, <usize>unchecked(this.views[j + 2]), vl);
      data += vl;
      store<u8>(data++, 0);
    }
    this.ptr = p;
    this.len = total;
  }
}
