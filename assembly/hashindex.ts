// The one hash-table index of the filter (keys by digest, usage counters, live streams): open addressing over a
// power-of-two array of slots, each (u32 hash, u32 record + 1), linear probing, backward-shift deletion (no
// tombstones). The owner keeps its records and decides equality; the stored hash lets a probe pass over other
// records without touching them, and lets deletion move entries without asking the owner for their hashes.
// The slots are a managed array, so an index dropped with its owner (a replaced configuration) is collected.

export class HashIndex {
  private slots: StaticArray<u64> = new StaticArray<u64>(0);
  private mask: u32 = 0;
  private shift: u32 = 32;
  /** Probe position of first()/next(). */
  private cursor: u32 = 0;

  /** Empties the index, sized for up to `records` entries at most half full (at least 16 slots). */
  reset(records: i32): void {
    let cap: u32 = 16;
    while (cap < <u32>records * 2) cap <<= 1;
    this.slots = new StaticArray<u64>(<i32>cap);
    this.mask = cap - 1;
    this.shift = 32 - <u32>ctz<u32>(cap);
  }

  /** Forgets every entry, keeping the size. */
  clear(): void {
    if (this.slots.length > 0) memory.fill(changetype<usize>(this.slots), 0, <usize>this.slots.length << 3);
  }

  /** Home slot of a hash (Fibonacci hashing: consecutive context ids spread as well as random digests). */
  @inline private home(h: u32): u32 { return (h * 0x9e3779b1) >>> this.shift; }

  @inline private at(s: u32): u64 { return load<u64>(changetype<usize>(this.slots) + (<usize>s << 3)); }
  @inline private put(s: u32, v: u64): void { store<u64>(changetype<usize>(this.slots) + (<usize>s << 3), v); }

  /** Adds record `r` under hash `h` (the owner checks for duplicates first if it must). */
  insert(h: u32, r: i32): void {
    if (this.slots.length == 0) this.reset(8);
    let s = this.home(h);
    while (this.at(s) != 0) s = (s + 1) & this.mask;
    this.put(s, (<u64>h << 32) | <u64>(<u32>r + 1));
  }

  /** The first record stored under hash `h`, or -1; next(h) gives the following ones. */
  @inline first(h: u32): i32 {
    if (this.slots.length == 0) return -1;
    this.cursor = this.home(h);
    return this.next(h);
  }

  /** The next record stored under hash `h` after the last one returned, or -1 at the end of the probe chain. */
  @inline next(h: u32): i32 {
    let s = this.cursor;
    while (true) {
      const e = this.at(s);
      if (e == 0) return -1;
      s = (s + 1) & this.mask;
      if (<u32>(e >>> 32) == h) {
        this.cursor = s;
        return <i32>(<u32>e) - 1;
      }
    }
  }

  /** Removes record `r` stored under hash `h` (nothing when absent), shifting later entries of its chain back. */
  remove(h: u32, r: i32): void {
    if (this.slots.length == 0) return;
    const want = (<u64>h << 32) | <u64>(<u32>r + 1);
    let j = this.home(h);
    while (true) {
      const e = this.at(j);
      if (e == 0) return;
      if (e == want) break;
      j = (j + 1) & this.mask;
    }
    let k = j;
    while (true) {
      k = (k + 1) & this.mask;
      const e = this.at(k);
      if (e == 0) break;
      // An entry may move back to the hole at j unless its home lies cyclically in (j, k].
      const home = this.home(<u32>(e >>> 32));
      const stays = j <= k ? (home > j && home <= k) : (home > j || home <= k);
      if (!stays) {
        this.put(j, e);
        j = k;
      }
    }
    this.put(j, 0);
  }
}
