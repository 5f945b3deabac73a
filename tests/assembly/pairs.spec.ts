import { PairTable, PairWriter } from "../../assembly/abi/pairs";

function s(p: usize, n: usize): string {
  return String.UTF8.decodeUnsafe(p, n);
}

/** Encodes headers [k0, v0, k1, v1, …] with the writer (staged path). */
function encode(w: PairWriter, kv: string[]): void {
  w.reset();
  for (let i = 0; i < kv.length; i += 2) {
    const k = String.UTF8.encode(kv[i]), v = String.UTF8.encode(kv[i + 1]);
    keep.push(k); keep.push(v);
    w.add(changetype<usize>(k), <usize>k.byteLength, changetype<usize>(v), <usize>v.byteLength);
  }
  w.finish();
}

const keep: ArrayBuffer[] = [];

function dump(t: PairTable): string {
  let out = "";
  for (let i = 0; i < t.count; i++) out += s(t.keyPtr(i), t.keyLen(i)) + "=" + s(t.valuePtr(i), t.valueLen(i)) + ";";
  return out;
}

describe("header pairs", () => {
  it("round-trips, including the documented 38-byte example", () => {
    const w = new PairWriter();
    encode(w, [":method", "GET", "x-a", "1"]);
    expect(w.len).toBe(38);
    const t = new PairTable();
    expect(t.decode(w.ptr, w.len)).toBe(true);
    expect(dump(t)).toBe(":method=GET;x-a=1;");
  });
  it("finishFrom keeps runs, skips, replaces and appends", () => {
    const w = new PairWriter();
    encode(w, [":path", "/a?k=1", "a", "1", "x-api-key", "secret", "b", "", "c", "3"]);
    const src = heap.alloc(w.len);
    memory.copy(src, w.ptr, w.len);
    const t = new PairTable();
    expect(t.decode(src, w.len)).toBe(true);
    const np = String.UTF8.encode("/a");
    t.replace(0, changetype<usize>(np), 2);
    t.skip(2);
    const out = new PairWriter();
    const k = String.UTF8.encode("x-id"), v = String.UTF8.encode("key_1");
    out.reset();
    out.add(changetype<usize>(k), 4, changetype<usize>(v), 5);
    out.finishFrom(t);
    const r = new PairTable();
    expect(r.decode(out.ptr, out.len)).toBe(true);
    expect(dump(r)).toBe(":path=/a;a=1;b=;c=3;x-id=key_1;");
  });
  it("malformed blocks decode as empty, never trap", () => {
    const t = new PairTable();
    const b = new ArrayBuffer(64);
    const p = changetype<usize>(b);
    store<u32>(p, 5000);
    expect(t.decode(p, 64)).toBe(false);
    store<u32>(p, 1); store<u32>(p, 100, 4); store<u32>(p, 1, 8);
    expect(t.decode(p, 64)).toBe(false);
    store<u32>(p, 1); store<u32>(p, 1, 4); store<u32>(p, 1, 8); store<u32>(p, 0x01010101, 12);
    expect(t.decode(p, 16)).toBe(false); // missing NUL terminators
    expect(t.count).toBe(0);
    expect(t.decode(0, 0)).toBe(true);
    expect(t.decode(p, 3)).toBe(false);
  });
});
