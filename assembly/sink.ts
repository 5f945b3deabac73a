// A growable byte buffer for building request bodies and header values outside the hot path's fixed buffers.

import { writeU64 } from "./bytes";

export class ByteSink {
  ptr: usize = 0;
  len: usize = 0;
  private cap: usize = 0;

  reset(): void { this.len = 0; }

  reserve(n: usize): usize {
    if (this.len + n > this.cap) {
      let nc: usize = this.cap == 0 ? 1024 : this.cap * 2;
      while (nc < this.len + n) nc *= 2;
      const np = heap.alloc(nc);
      if (this.ptr != 0) {
        memory.copy(np, this.ptr, this.len);
        heap.free(this.ptr);
      }
      this.ptr = np;
      this.cap = nc;
    }
    return this.ptr + this.len;
  }

  bytes(p: usize, n: usize): void {
    const d = this.reserve(n);
    memory.copy(d, p, n);
    this.len += n;
  }

  ascii(s: string): void {
    const n = <usize>s.length;
    const d = this.reserve(n);
    for (let i: usize = 0; i < n; i++) store<u8>(d + i, <u8>s.charCodeAt(<i32>i));
    this.len += n;
  }

  byte(b: u8): void {
    const d = this.reserve(1);
    store<u8>(d, b);
    this.len += 1;
  }

  u64(v: u64): void {
    const d = this.reserve(20);
    this.len += writeU64(d, v);
  }

  /** Frees the buffer (for sinks that hold something large only briefly). */
  release(): void {
    if (this.ptr != 0) heap.free(this.ptr);
    this.ptr = 0;
    this.cap = 0;
    this.len = 0;
  }
}
