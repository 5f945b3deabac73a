// The eight-bytes-at-a-time scans (assembly/bytes.ts indexOfEither, assembly/http/path.ts pathNeedsNormalizing)
// agree with a byte-by-byte reading on every alignment and length, including matches in the last partial word.
import { indexOfEither } from "../../assembly/bytes";
import { pathNeedsNormalizing } from "../../assembly/http/path";

const BUF = heap.alloc(128);
// Mostly plain bytes, so both answers come up; every byte the scans look for is in.
const ALPHABET: u8[] = [0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x62, 0x63, 0x30, 0x2f, 0x2f, 0x2e, 0x3f, 0x23, 0x25, 0x5c, 0x3b, 0x26, 0x3d];

function fill(seed: u32, n: usize): void {
  let x = seed;
  for (let i: usize = 0; i < n; i++) {
    x = x * 1103515245 + 12345;
    store<u8>(BUF + i, ALPHABET[<i32>((x >>> 16) % <u32>ALPHABET.length)]);
  }
}

function refIndex(from: usize, to: usize, a: u8, b: u8): usize {
  for (let i = from; i < to; i++) { const c = load<u8>(BUF + i); if (c == a || c == b) return i; }
  return to;
}

function refNeeds(len: usize): bool {
  for (let i: usize = 0; i < len; i++) {
    const c = load<u8>(BUF + i);
    if (c == 0x25 || c == 0x5c || c == 0x3b) return true;
    if (c == 0x2f && i + 1 < len) { const d = load<u8>(BUF + i + 1); if (d == 0x2f || d == 0x2e) return true; }
    if (c == 0x2e && i == 0) return true;
  }
  return false;
}

describe("eight bytes at a time", () => {
  it("indexOfEither finds what a byte loop finds", () => {
    for (let seed: u32 = 1; seed < 400; seed++) {
      const n = <usize>(seed % 40);
      fill(seed, n);
      for (let from: usize = 0; from <= n; from += 3) {
        expect(indexOfEither(BUF, from, n, 0x3f, 0x23)).toBe(refIndex(from, n, 0x3f, 0x23));
        expect(indexOfEither(BUF, from, n, 0x26, 0x26)).toBe(refIndex(from, n, 0x26, 0x26));
      }
    }
  });
  it("pathNeedsNormalizing decides as a byte loop does", () => {
    for (let seed: u32 = 1; seed < 2000; seed++) {
      const n = <usize>(seed % 30);
      fill(seed * 7, n);
      expect(pathNeedsNormalizing(BUF, n)).toBe(refNeeds(n));
    }
  });
});
