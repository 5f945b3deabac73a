// Byte-range helpers the hot path relies on (assembly/bytes.ts): word-wide compares and copies that must stay inside
// their ranges, and decimal formatting of header numbers.
import { copyBytes, copyShort, decimal, sameBytes, writeU32, zeroBytes } from "../../assembly/bytes";

const A = heap.alloc(1024);
const B = heap.alloc(1024);

function fill(p: usize, n: usize, seed: u32): void {
  for (let i: usize = 0; i < n; i++) store<u8>(p + i, <u8>(seed + <u32>i * 31));
}

function dec(v: u32): string {
  const p = heap.alloc(16);
  const n = writeU32(p, v);
  const s = String.UTF8.decodeUnsafe(p, n);
  heap.free(p);
  return s;
}

describe("sameBytes", () => {
  it("equal ranges of every length up to 40, and a difference at every position is seen", () => {
    for (let n: usize = 0; n <= 40; n++) {
      fill(A + 3, n, 7);
      fill(B + 5, n, 7);
      expect(sameBytes(A + 3, B + 5, n)).toBe(true);
      for (let i: usize = 0; i < n; i++) {
        store<u8>(B + 5 + i, load<u8>(B + 5 + i) ^ 0x20);
        expect(sameBytes(A + 3, B + 5, n)).toBe(false);
        store<u8>(B + 5 + i, load<u8>(B + 5 + i) ^ 0x20);
      }
    }
  });
  it("looks at nothing outside the ranges", () => {
    fill(A, 64, 1);
    fill(B, 64, 1);
    store<u8>(A + 20, 0); store<u8>(B + 20, 1); // just past n = 20
    store<u8>(A + 9, 0); store<u8>(B + 9, 1);   // just before the start at 10
    expect(sameBytes(A + 10, B + 10, 10)).toBe(true);
  });
});

describe("copyBytes and copyShort", () => {
  it("copy exactly n bytes for every n up to 600, writing nothing around them", () => {
    for (let n: usize = 0; n <= 600; n += n < 70 ? 1 : 37) {
      fill(A, n + 16, 3);
      for (let i: usize = 0; i < n + 32; i++) store<u8>(B + i, 0xee);
      copyBytes(B + 8, A + 1, n);
      expect(load<u8>(B + 7)).toBe(0xee);
      expect(load<u8>(B + 8 + n)).toBe(0xee);
      expect(sameBytes(B + 8, A + 1, n)).toBe(true);
    }
    for (let n: usize = 0; n <= 64; n++) {
      fill(A, n + 16, 9);
      for (let i: usize = 0; i < n + 32; i++) store<u8>(B + i, 0xee);
      copyShort(B + 8, A + 1, n);
      expect(load<u8>(B + 7)).toBe(0xee);
      expect(load<u8>(B + 8 + n)).toBe(0xee);
      expect(sameBytes(B + 8, A + 1, n)).toBe(true);
    }
  });
  it("zeroBytes clears exactly n bytes", () => {
    for (let n: usize = 0; n <= 40; n++) {
      for (let i: usize = 0; i < 64; i++) store<u8>(B + i, 0xee);
      zeroBytes(B + 3, n);
      expect(load<u8>(B + 2)).toBe(0xee);
      expect(load<u8>(B + 3 + n)).toBe(0xee);
      for (let i: usize = 0; i < n; i++) expect(load<u8>(B + 3 + i)).toBe(0);
    }
  });
});

describe("writeU32", () => {
  it("writes decimal digits of every magnitude", () => {
    expect(dec(0)).toBe("0");
    expect(dec(7)).toBe("7");
    expect(dec(10)).toBe("10");
    expect(dec(99)).toBe("99");
    expect(dec(100)).toBe("100");
    expect(dec(1005)).toBe("1005");
    expect(dec(86399)).toBe("86399");
    expect(dec(1000000)).toBe("1000000");
    expect(dec(2147483647)).toBe("2147483647");
    expect(dec(4294967295)).toBe("4294967295");
    for (let v: u32 = 1; v < 4000000000; v = v * 3 + 1) expect(dec(v)).toBe(v.toString());
  });
});

describe("decimal (configuration messages)", () => {
  it("formats zero, signs and the i64 extremes as toString does", () => {
    expect(decimal(0)).toBe("0");
    expect(decimal(9)).toBe("9");
    expect(decimal(10)).toBe("10");
    expect(decimal(-1)).toBe("-1");
    expect(decimal(9007199254740991)).toBe("9007199254740991");
    expect(decimal(i64.MAX_VALUE)).toBe("9223372036854775807");
    expect(decimal(i64.MIN_VALUE)).toBe("-9223372036854775808");
    for (let v: i64 = 1; v < 1000000000000000000; v = v * 7 + 3) {
      expect(decimal(v)).toBe(v.toString());
      expect(decimal(-v)).toBe((-v).toString());
    }
  });
});
