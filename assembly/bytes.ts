// Small operations on byte ranges in linear memory (the hot path works on views, never on String).

@inline export function lowerAscii(c: u32): u32 {
  return c - 0x41 < 26 ? c | 0x20 : c;
}

export function bytesEqual(a: usize, aLen: usize, b: usize, bLen: usize): bool {
  return aLen == bLen && memory.compare(a, b, aLen) == 0;
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
 * Copies n bytes; small copies use plain loads/stores because V8 compiles `memory.copy` to a runtime call whose
 * fixed cost dominates for header-sized strings (measured: see docs/filter.md).
 */
@inline export function copyBytes(dst: usize, src: usize, n: usize): void {
  if (n > 64) {
    memory.copy(dst, src, n);
    return;
  }
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) store<u64>(dst + i, load<u64>(src + i));
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
}

/** Zeroes n bytes (n a multiple of 8), without the runtime call of `memory.fill`. */
@inline export function zero8(dst: usize, n: usize): void {
  for (let i: usize = 0; i < n; i += 8) store<u64>(dst + i, 0);
}
