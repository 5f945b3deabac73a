// Keys by SHA-256 digest: flat arrays (no object per key) indexed by the filter's one hash index (hashindex.ts),
// so 100,000 keys cost a few MiB and a lookup is one probe plus a 32-byte compare.

import { HashIndex } from "../hashindex";

export class KeyTable {
  count: i32 = 0;
  /** 32 bytes per key. */
  digests: ArrayBuffer = new ArrayBuffer(0);
  /** Per key: keyId offset, keyId length, consumerId offset, consumerId length (into `ids`). */
  idRefs: StaticArray<u32> = new StaticArray<u32>(0);
  ids: ArrayBuffer = new ArrayBuffer(0);
  private idsLen: i32 = 0;
  plan: StaticArray<i32> = new StaticArray<i32>(0);
  expiresAt: StaticArray<f64> = new StaticArray<f64>(0);
  notBefore: StaticArray<f64> = new StaticArray<f64>(0);
  /** Digest (its first 4 bytes: already uniform) → key index. */
  private index: HashIndex = new HashIndex();

  /**
   * Reserves room for about `n` keys up front. The decoder estimates n from the configuration size (every record
   * takes at least ~55 bytes of JSON), so 100,000 keys do not leave a trail of doubled-and-dropped arrays behind
   * (the minimal runtime only collects after proxy_on_configure returns).
   */
  reserve(n: i32, idBytes: i32): void {
    if (n > this.plan.length) this.grow(n);
    if (idBytes > this.ids.byteLength) {
      const nb = new ArrayBuffer(idBytes);
      memory.copy(changetype<usize>(nb), changetype<usize>(this.ids), <usize>this.idsLen);
      this.ids = nb;
    }
  }

  private grow(n: i32): void {
    const cap = n < 16 ? 16 : n;
    const d = new ArrayBuffer(cap * 32);
    memory.copy(changetype<usize>(d), changetype<usize>(this.digests), <usize>this.count * 32);
    this.digests = d;
    const r = new StaticArray<u32>(cap * 4);
    memory.copy(changetype<usize>(r), changetype<usize>(this.idRefs), <usize>this.count * 16);
    this.idRefs = r;
    const p = new StaticArray<i32>(cap);
    memory.copy(changetype<usize>(p), changetype<usize>(this.plan), <usize>this.count * 4);
    this.plan = p;
    const e = new StaticArray<f64>(cap);
    memory.copy(changetype<usize>(e), changetype<usize>(this.expiresAt), <usize>this.count * 8);
    this.expiresAt = e;
    const b = new StaticArray<f64>(cap);
    memory.copy(changetype<usize>(b), changetype<usize>(this.notBefore), <usize>this.count * 8);
    this.notBefore = b;
  }

  private appendId(ptr: usize, len: usize): u32 {
    const need = this.idsLen + <i32>len;
    if (need > this.ids.byteLength) {
      const nb = new ArrayBuffer(need < 4096 ? 4096 : need + (need >> 1));
      memory.copy(changetype<usize>(nb), changetype<usize>(this.ids), <usize>this.idsLen);
      this.ids = nb;
    }
    const off = this.idsLen;
    memory.copy(changetype<usize>(this.ids) + <usize>off, ptr, len);
    this.idsLen = need;
    return <u32>off;
  }

  /** Appends a record (digest 32 bytes at `digest`). Duplicates are detected by build(). */
  add(digest: usize, keyId: usize, keyIdLen: usize, consumer: usize, consumerLen: usize, plan: i32, expiresAt: f64, notBefore: f64): void {
    if (this.count >= this.plan.length) this.grow(this.count + (this.count >> 1));
    const i = this.count;
    memory.copy(changetype<usize>(this.digests) + <usize>i * 32, digest, 32);
    const k = this.appendId(keyId, keyIdLen);
    const c = this.appendId(consumer, consumerLen);
    unchecked(this.idRefs[i * 4] = k);
    unchecked(this.idRefs[i * 4 + 1] = <u32>keyIdLen);
    unchecked(this.idRefs[i * 4 + 2] = c);
    unchecked(this.idRefs[i * 4 + 3] = <u32>consumerLen);
    unchecked(this.plan[i] = plan);
    unchecked(this.expiresAt[i] = expiresAt);
    unchecked(this.notBefore[i] = notBefore);
    this.count++;
  }

  /** Builds the hash index; returns the index of the first duplicate digest, or -1. */
  build(): i32 {
    this.index.reset(this.count);
    for (let i = 0; i < this.count; i++) {
      const d = changetype<usize>(this.digests) + <usize>i * 32;
      if (this.find(d) >= 0) return i;
      this.index.insert(load<u32>(d), i);
    }
    return -1;
  }

  /** Index of the key with this 32-byte digest, or -1. */
  @inline find(digest: usize): i32 {
    const a = load<u64>(digest), b = load<u64>(digest, 8), c = load<u64>(digest, 16), d = load<u64>(digest, 24);
    const h = <u32>a;
    for (let k = this.index.first(h); k >= 0; k = this.index.next(h)) {
      const p = changetype<usize>(this.digests) + <usize>k * 32;
      if (load<u64>(p) == a && load<u64>(p, 8) == b && load<u64>(p, 16) == c && load<u64>(p, 24) == d) return k;
    }
    return -1;
  }

  @inline keyIdPtr(i: i32): usize { return changetype<usize>(this.ids) + <usize>unchecked(this.idRefs[i * 4]); }
  @inline keyIdLen(i: i32): usize { return <usize>unchecked(this.idRefs[i * 4 + 1]); }
  @inline consumerPtr(i: i32): usize { return changetype<usize>(this.ids) + <usize>unchecked(this.idRefs[i * 4 + 2]); }
  @inline consumerLen(i: i32): usize { return <usize>unchecked(this.idRefs[i * 4 + 3]); }
}
