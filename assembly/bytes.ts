// Small operations on byte ranges in linear memory (the hot path works on views, never on String).

/** Address of an ArrayBuffer's bytes: configuration strings are compared and copied as raw memory. */
@inline export function ab(b: ArrayBuffer): usize { return changetype<usize>(b); }
/** Length of an ArrayBuffer, as a usize to go with ab(). */
@inline export function abLen(b: ArrayBuffer): usize { return <usize>b.byteLength; }

// Eight bytes at a time (SWAR): a byte value repeated in every lane, and an exact per-lane equality mask.
/** `b` in each of the eight byte lanes of a u64. */
@inline export function lanes(b: u8): u64 { return <u64>b * 0x0101010101010101; }
/** 0x80 in every byte lane of `x` equal to the lane of `b` (made by lanes()), 0 elsewhere: no false positives. */
@inline export function laneMask(x: u64, b: u64): u64 {
  const t = x ^ b;
  return ~(((t & 0x7f7f7f7f7f7f7f7f) + 0x7f7f7f7f7f7f7f7f) | t | 0x7f7f7f7f7f7f7f7f);
}

/** Index of the first byte equal to `a` or `b` in [from, to) at `p`, or `to`. Reads nothing outside that range. */
export function indexOfEither(p: usize, from: usize, to: usize, a: u8, b: u8): usize {
  let i = from;
  const la = lanes(a), lb = lanes(b);
  for (; i + 8 <= to; i += 8) {
    const x = load<u64>(p + i);
    const m = laneMask(x, la) | laneMask(x, lb);
    if (m != 0) return i + (<usize>ctz<u64>(m) >> 3);
  }
  for (; i < to; i++) {
    const c = load<u8>(p + i);
    if (c == a || c == b) return i;
  }
  return to;
}

/**
 * Whether `n` bytes at `a` and `b` are equal. Word-wide unaligned loads (never outside the two ranges): header
 * bytes sit at any alignment in host-written memory, where `memory.compare` falls back to a byte loop.
 */
export function sameBytes(a: usize, b: usize, n: usize): bool {
  if (n >= 8) {
    let i: usize = 0;
    for (; i + 8 <= n; i += 8) if (load<u64>(a + i) != load<u64>(b + i)) return false;
    return i == n || load<u64>(a + n - 8) == load<u64>(b + n - 8);
  }
  if (n >= 4) return load<u32>(a) == load<u32>(b) && load<u32>(a + n - 4) == load<u32>(b + n - 4);
  for (let i: usize = 0; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

@inline export function lowerAscii(c: u32): u32 {
  return c - 0x41 < 26 ? c | 0x20 : c;
}

export function bytesEqual(a: usize, aLen: usize, b: usize, bLen: usize): bool {
  return aLen == bLen && sameBytes(a, b, aLen);
}

/** ASCII case-insensitive prefix test. */
export function startsWithIgnoreCase(p: usize, len: usize, prefix: usize, prefixLen: usize): bool {
  if (prefixLen > len) return false;
  for (let i: usize = 0; i < prefixLen; i++) {
    if (lowerAscii(load<u8>(p + i)) != lowerAscii(load<u8>(prefix + i))) return false;
  }
  return true;
}

/** Writes the decimal digits of `v` at `p`; returns the count. */
export function writeU64(p: usize, v: u64): usize {
  let n: usize = 1;
  let t = v;
  while (t >= 10) { t /= 10; n++; }
  let q = p + n;
  do {
    store<u8>(--q, <u8>(0x30 + <u32>(v % 10)));
    v /= 10;
  } while (v != 0);
  return n;
}

/** Scratch for decimal(): a sign and up to 20 digits. */
const DEC = memory.data(24);

/**
 * Decimal text of `v`, for messages built at configuration time. Not `v.toString()`: that brings the standard
 * library's any-radix formatter, its digit tables and its error strings into the module (~1 KB).
 */
export function decimal(v: i64): string {
  let p = DEC;
  let u = <u64>v;
  if (v < 0) { store<u8>(p++, 0x2d); u = <u64>0 - u; }
  return String.UTF8.decodeUnsafe(DEC, p - DEC + writeU64(p, u), false);
}

/** "00" … "99": two digits per step, so a u32 takes at most five steps. */
const DIGIT_PAIRS = memory.data<u8>([
  48,48,48,49,48,50,48,51,48,52,48,53,48,54,48,55,48,56,48,57,49,48,49,49,49,50,49,51,49,52,49,53,49,54,49,55,
  49,56,49,57,50,48,50,49,50,50,50,51,50,52,50,53,50,54,50,55,50,56,50,57,51,48,51,49,51,50,51,51,51,52,51,53,
  51,54,51,55,51,56,51,57,52,48,52,49,52,50,52,51,52,52,52,53,52,54,52,55,52,56,52,57,53,48,53,49,53,50,53,51,
  53,52,53,53,53,54,53,55,53,56,53,57,54,48,54,49,54,50,54,51,54,52,54,53,54,54,54,55,54,56,54,57,55,48,55,49,
  55,50,55,51,55,52,55,53,55,54,55,55,55,56,55,57,56,48,56,49,56,50,56,51,56,52,56,53,56,54,56,55,56,56,56,57,
  57,48,57,49,57,50,57,51,57,52,57,53,57,54,57,55,57,56,57,57,
]);

/** Writes the decimal digits of `v` at `p`; returns the count (1 … 10). The response headers' numbers are u32. */
export function writeU32(p: usize, v: u32): usize {
  const n: usize = v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 :
    v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
  let q = p + n;
  while (v >= 100) {
    const r = v % 100;
    v /= 100;
    q -= 2;
    store<u16>(q, load<u16>(DIGIT_PAIRS + (<usize>r << 1)));
  }
  if (v >= 10) store<u16>(q - 2, load<u16>(DIGIT_PAIRS + (<usize>v << 1)));
  else store<u8>(q - 1, <u8>(0x30 + v));
  return n;
}

const HEX = "0123456789abcdef";

/** Writes `n` bytes at `src` as 2n lowercase hex chars at `dst`. */
export function writeHex(dst: usize, src: usize, n: usize): void {
  for (let i: usize = 0; i < n; i++) {
    const b = <i32>load<u8>(src + i);
    store<u8>(dst + 2 * i, <u8>HEX.charCodeAt(b >> 4));
    store<u8>(dst + 2 * i + 1, <u8>HEX.charCodeAt(b & 15));
  }
}

/**
 * Copies n bytes between ranges that do not overlap. Up to a header block's size with 16-byte vector loads/stores,
 * 32 bytes per pass (every loop pass costs an interrupt check in V8), the last copy overlapping the one before: V8
 * compiles `memory.copy` to a runtime call whose fixed cost dominates at these sizes (measured: see docs/filter.md).
 */
export function copyBytes(dst: usize, src: usize, n: usize): void {
  if (n >= 16) {
    if (n > 1024) {
      memory.copy(dst, src, n);
      return;
    }
    let i: usize = 0;
    for (; i + 32 <= n; i += 32) {
      const a = v128.load(src + i), b = v128.load(src + i, 16);
      v128.store(dst + i, a);
      v128.store(dst + i, b, 16);
    }
    if (i + 16 <= n) {
      v128.store(dst + i, v128.load(src + i));
      i += 16;
    }
    if (i < n) v128.store(dst + n - 16, v128.load(src + n - 16));
    return;
  }
  if (n >= 8) {
    const x = load<u64>(src), y = load<u64>(src + n - 8);
    store<u64>(dst, x);
    store<u64>(dst + n - 8, y);
    return;
  }
  if (n >= 4) {
    const x = load<u32>(src), y = load<u32>(src + n - 4);
    store<u32>(dst, x);
    store<u32>(dst + n - 4, y);
    return;
  }
  for (let i: usize = 0; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
}

/**
 * copyBytes for short strings (header names, ids, small values), inlined and without a loop up to 32 bytes:
 * overlapping word loads and stores, all within the two ranges. Measured: staging three identity headers costs half.
 */
@inline export function copyShort(dst: usize, src: usize, n: usize): void {
  if (n >= 8) {
    if (n > 32) {
      copyBytes(dst, src, n);
    } else if (n > 16) {
      const a = load<u64>(src), b = load<u64>(src, 8), c = load<u64>(src + n - 16), d = load<u64>(src + n - 8);
      store<u64>(dst, a); store<u64>(dst, b, 8); store<u64>(dst + n - 16, c); store<u64>(dst + n - 8, d);
    } else {
      const a = load<u64>(src), b = load<u64>(src + n - 8);
      store<u64>(dst, a); store<u64>(dst + n - 8, b);
    }
  } else if (n >= 4) {
    const a = load<u32>(src), b = load<u32>(src + n - 4);
    store<u32>(dst, a); store<u32>(dst + n - 4, b);
  } else {
    for (let i: usize = 0; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
  }
}

/** Zeroes n bytes (any n): 16 at a time, the last store overlapping the one before. */
export function zeroBytes(dst: usize, n: usize): void {
  const zero = i32x4.splat(0);
  if (n >= 16) {
    let i: usize = 0;
    for (; i + 16 <= n; i += 16) v128.store(dst + i, zero);
    if (i < n) v128.store(dst + n - 16, zero);
    return;
  }
  for (let i: usize = 0; i < n; i++) store<u8>(dst + i, 0);
}

