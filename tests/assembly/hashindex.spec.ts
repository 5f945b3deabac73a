// The filter's one hash index (assembly/hashindex.ts), used by the key table, the usage counters and the streams:
// lookups through probe chains, equal hashes, deletion that keeps chains intact (wrapping around the slot array).
import { HashIndex } from "../../assembly/hashindex";

/** Every record stored under `h`, in probe order. */
function all(x: HashIndex, h: u32): i32[] {
  const out: i32[] = [];
  for (let r = x.first(h); r >= 0; r = x.next(h)) out.push(r);
  return out;
}

function has(x: HashIndex, h: u32, r: i32): bool {
  const found = all(x, h);
  for (let i = 0; i < found.length; i++) if (found[i] == r) return true;
  return false;
}

describe("hash index", () => {
  it("an empty index finds nothing and removes nothing", () => {
    const x = new HashIndex();
    expect(x.first(7)).toBe(-1);
    x.remove(7, 0);
    expect(x.first(7)).toBe(-1);
  });
  it("finds every record of many, by hash, and nothing else", () => {
    const x = new HashIndex();
    x.reset(2000);
    for (let i = 0; i < 2000; i++) x.insert(<u32>(i * 7919 + 1), i);
    for (let i = 0; i < 2000; i++) expect(all(x, <u32>(i * 7919 + 1))).toStrictEqual([i]);
    expect(x.first(0)).toBe(-1);
    expect(x.first(2)).toBe(-1);
  });
  it("records under one hash come back in insertion order, and each can be removed", () => {
    const x = new HashIndex();
    x.reset(8);
    for (let r = 0; r < 6; r++) x.insert(42, r);
    expect(all(x, 42)).toStrictEqual([0, 1, 2, 3, 4, 5]);
    x.remove(42, 2);
    expect(all(x, 42)).toStrictEqual([0, 1, 3, 4, 5]);
    x.remove(42, 0);
    x.remove(42, 5);
    expect(all(x, 42)).toStrictEqual([1, 3, 4]);
    x.remove(42, 9); // not there: nothing changes
    expect(all(x, 42)).toStrictEqual([1, 3, 4]);
  });
  it("deleting keeps every other chain reachable, also when chains wrap past the last slot", () => {
    // 16 slots, 8 records: dense enough that chains collide and wrap.
    const x = new HashIndex();
    x.reset(8);
    const hashes: u32[] = [];
    for (let i = 0; i < 8; i++) {
      const h = <u32>(i * 0x9e3779b9) ^ <u32>(i >> 1);
      hashes.push(h);
      x.insert(h, i);
    }
    const order: i32[] = [5, 0, 7, 2, 6, 1, 3, 4];
    for (let k = 0; k < order.length; k++) {
      const gone = order[k];
      x.remove(hashes[gone], gone);
      expect(has(x, hashes[gone], gone)).toBe(false);
      for (let j = k + 1; j < order.length; j++) expect(has(x, hashes[order[j]], order[j])).toBe(true);
    }
  });
  it("stays correct through heavy churn (insert, remove, reinsert)", () => {
    const x = new HashIndex();
    x.reset(256);
    const live = new StaticArray<bool>(256);
    let seed: u32 = 12345;
    for (let step = 0; step < 20000; step++) {
      seed = seed * 1103515245 + 12345;
      const r = <i32>((seed >>> 8) & 255);
      const h = <u32>r * 2654435761; // distinct per record
      if (live[r]) { x.remove(h, r); live[r] = false; } else { x.insert(h, r); live[r] = true; }
    }
    for (let r = 0; r < 256; r++) expect(has(x, <u32>r * 2654435761, r)).toBe(live[r]);
  });
  it("clear forgets everything and keeps working", () => {
    const x = new HashIndex();
    x.reset(16);
    for (let i = 0; i < 16; i++) x.insert(<u32>i, i);
    x.clear();
    for (let i = 0; i < 16; i++) expect(x.first(<u32>i)).toBe(-1);
    x.insert(3, 30);
    expect(all(x, 3)).toStrictEqual([30]);
  });
});
