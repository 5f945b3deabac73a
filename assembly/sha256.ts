// SHA-256 (FIPS 180-4) over raw memory, written by hand because the filter must hash on the hot path without
// allocating and no AssemblyScript library offers that. Checked against the NIST vectors in tests/assembly.
//
// Speed (it was a fifth of an authorized request): the eight state words stay in scalar locals, four rounds at a time
// are written out with the variables renamed from round to round instead of shifted, and their additions are ordered
// so the next e and a wait on as few steps as possible. The rounds are bound by the scalar ALUs, so the message
// schedule runs on the vector unit (wasm SIMD, v128), four words at a time, interleaved with rounds that do not need
// them yet: 356 (before) → ~220 (scalar, sixteen rounds unrolled) → ~180 ns for a 43-byte key. Inside a whole request
// the small loop wins over wider unrolling (measured: 16 rounds per pass ~50 ns slower there, all 64 no better and
// +6 KB), as the first hash of a request runs from cold code. Nothing of the message is left behind: the padded tail
// block is wiped after use, and the schedule lives only in locals.

const K = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const H = memory.data(8 * 4);
const TAIL = memory.data(128);
/** Byte order of each 32-bit lane reversed: the message words are big-endian. */
const SWAP = i8x16(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);

/** A u32 byte-swapped (wasm has no byte-swap instruction, and the bswap polyfill is not inlined in this build). */
@inline function swap32(x: u32): u32 { return rotl<u32>(((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8), 16); }
@inline function bigSigma0(a: u32): u32 { return rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22); }
@inline function bigSigma1(e: u32): u32 { return rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25); }
@inline function ch(e: u32, f: u32, g: u32): u32 { return g ^ (e & (f ^ g)); }
@inline function maj(a: u32, b: u32, c: u32): u32 { return (a & b) | (c & (a | b)); }

// The schedule's functions on four words at once.
@inline function rotr4(x: v128, n: i32): v128 { return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n)); }
@inline function sigma0x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 7), rotr4(x, 18)), i32x4.shr_u(x, 3)); }
@inline function sigma1x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 17), rotr4(x, 19)), i32x4.shr_u(x, 10)); }

/**
 * The four schedule words after the sixteen in x0 (oldest four) … x3 (newest four):
 * W[i] = W[i-16] + σ0(W[i-15]) + W[i-7] + σ1(W[i-2]). σ1 of the first two new words reads the last two old ones;
 * σ1 of the last two reads the first two new ones, hence the second step.
 */
@inline function nextWords(x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const zero = i32x4.splat(0);
  // W[i-15 … i-12] and W[i-7 … i-4]: the old words one lane along.
  const w15 = i8x16.shuffle(x0, x1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19);
  const w7 = i8x16.shuffle(x2, x3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19);
  const s = i32x4.add(i32x4.add(x0, sigma0x4(w15)), w7);
  const lo = i32x4.add(s, sigma1x4(i8x16.shuffle(x3, zero, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16)));
  return i32x4.add(lo, sigma1x4(i8x16.shuffle(zero, lo, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)));
}

/** One 64-byte block into the state H. */
function compress(block: usize): void {
  // The sixteen schedule words in flight, four per vector: x0 the oldest four.
  let x0 = v128.swizzle(v128.load(block), SWAP), x1 = v128.swizzle(v128.load(block, 16), SWAP);
  let x2 = v128.swizzle(v128.load(block, 32), SWAP), x3 = v128.swizzle(v128.load(block, 48), SWAP);
  let a = load<u32>(H), b = load<u32>(H, 4), c = load<u32>(H, 8), d = load<u32>(H, 12);
  let e = load<u32>(H, 16), f = load<u32>(H, 20), g = load<u32>(H, 24), h = load<u32>(H, 28);
  let t: u32;
  // Four rounds at a time (k: their constants). They take W + K from x0; meanwhile (but in the last sixteen
  // rounds) x0 becomes the four words sixteen rounds on, and the vectors move down one.
  for (let k = K; k < K + 256; k += 16) {
    const wk = i32x4.add(x0, v128.load(k));
    if (k < K + 192) x0 = nextWords(x0, x1, x2, x3);
    const x = x0;
    x0 = x1; x1 = x2; x2 = x3; x3 = x;
    // Round i's (a … h) is round i-1's (h, a … g): each round writes d and h, renamed instead of shifted.
    t = bigSigma1(e) + (ch(e, f, g) + (h + i32x4.extract_lane(wk, 0))); d += t; h = (bigSigma0(a) + maj(a, b, c)) + t;
    t = bigSigma1(d) + (ch(d, e, f) + (g + i32x4.extract_lane(wk, 1))); c += t; g = (bigSigma0(h) + maj(h, a, b)) + t;
    t = bigSigma1(c) + (ch(c, d, e) + (f + i32x4.extract_lane(wk, 2))); b += t; f = (bigSigma0(g) + maj(g, h, a)) + t;
    t = bigSigma1(b) + (ch(b, c, d) + (e + i32x4.extract_lane(wk, 3))); a += t; e = (bigSigma0(f) + maj(f, g, h)) + t;
    // After four rounds the names are half a turn round: swap the halves back.
    t = a; a = e; e = t;
    t = b; b = f; f = t;
    t = c; c = g; g = t;
    t = d; d = h; h = t;
  }
  store<u32>(H, load<u32>(H) + a); store<u32>(H, load<u32>(H, 4) + b, 4);
  store<u32>(H, load<u32>(H, 8) + c, 8); store<u32>(H, load<u32>(H, 12) + d, 12);
  store<u32>(H, load<u32>(H, 16) + e, 16); store<u32>(H, load<u32>(H, 20) + f, 20);
  store<u32>(H, load<u32>(H, 24) + g, 24); store<u32>(H, load<u32>(H, 28) + h, 28);
}

/** Zeroes the first `n` (64 or 128) bytes of TAIL. */
@inline function wipeTail(n: usize): void {
  const zero = i32x4.splat(0);
  v128.store(TAIL, zero); v128.store(TAIL, zero, 16); v128.store(TAIL, zero, 32); v128.store(TAIL, zero, 48);
  if (n > 64) { v128.store(TAIL, zero, 64); v128.store(TAIL, zero, 80); v128.store(TAIL, zero, 96); v128.store(TAIL, zero, 112); }
}

/** Writes the 32-byte SHA-256 digest of `len` bytes at `ptr` to `out`. */
export function sha256(ptr: usize, len: usize, out: usize): void {
  store<u32>(H, 0x6a09e667); store<u32>(H, 0xbb67ae85, 4); store<u32>(H, 0x3c6ef372, 8); store<u32>(H, 0xa54ff53a, 12);
  store<u32>(H, 0x510e527f, 16); store<u32>(H, 0x9b05688c, 20); store<u32>(H, 0x1f83d9ab, 24); store<u32>(H, 0x5be0cd19, 28);
  let off: usize = 0;
  while (len - off >= 64) {
    compress(ptr + off);
    off += 64;
  }
  // The last bytes, 0x80, zeros and the bit length, in one or two blocks: zeroed, then the bytes copied sixteen at a
  // time (the last copy overlapping the one before; nothing read past `len`).
  const rest = len - off;
  const src = ptr + off;
  const tailLen: usize = rest < 56 ? 64 : 128;
  wipeTail(tailLen);
  if (rest >= 16) {
    let i: usize = 0;
    for (; i + 16 <= rest; i += 16) v128.store(TAIL + i, v128.load(src + i));
    if (i < rest) v128.store(TAIL + rest - 16, v128.load(src + rest - 16));
  } else {
    for (let i: usize = 0; i < rest; i++) store<u8>(TAIL + i, load<u8>(src + i));
  }
  store<u8>(TAIL + rest, 0x80);
  const bits = <u64>len << 3;
  store<u32>(TAIL + tailLen - 8, swap32(<u32>(bits >>> 32)));
  store<u32>(TAIL + tailLen - 4, swap32(<u32>bits));
  compress(TAIL);
  if (tailLen == 128) compress(TAIL + 64);
  // The tail holds the end of the message (all of a key shorter than 56 bytes): no copy of a key outlives the call.
  wipeTail(tailLen);
  v128.store(out, v128.swizzle(v128.load(H), SWAP));
  v128.store(out, v128.swizzle(v128.load(H, 16), SWAP), 16);
}
