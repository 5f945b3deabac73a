// SHA-256 (FIPS 180-4) over raw memory, written by hand because the filter must hash on the hot path without
// allocating and no AssemblyScript library offers that. Checked against the NIST vectors in tests/assembly.
//
// Speed (it was a fifth of an authorized request): the state and the sixteen-word message schedule live in locals,
// and sixteen rounds are written out with the eight state variables renamed from round to round instead of shifted,
// their additions ordered so the next e and a wait on as few steps as possible; V8 keeps it all in registers
// (356 → ~215 ns for a 43-byte key). Unrolling further (all 64 rounds: ~205 ns alone, +5 KB of code) measured no
// faster inside a whole request. Nothing of the message is left behind: the padded tail block is wiped after use.

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

/** A u32 byte-swapped (wasm has no byte-swap instruction, and the bswap polyfill is not inlined in this build). */
@inline function swap32(x: u32): u32 { return rotl<u32>(((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8), 16); }
@inline function word(block: usize, i: usize): u32 { return swap32(load<u32>(block + (i << 2))); }
@inline function bigSigma0(a: u32): u32 { return rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22); }
@inline function bigSigma1(e: u32): u32 { return rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25); }
@inline function sigma0(w: u32): u32 { return rotr<u32>(w, 7) ^ rotr<u32>(w, 18) ^ (w >>> 3); }
@inline function sigma1(w: u32): u32 { return rotr<u32>(w, 17) ^ rotr<u32>(w, 19) ^ (w >>> 10); }
@inline function ch(e: u32, f: u32, g: u32): u32 { return g ^ (e & (f ^ g)); }
@inline function maj(a: u32, b: u32, c: u32): u32 { return (a & b) | (c & (a | b)); }

/** One 64-byte block into the state H. Round i's (a … h) is round i-1's (h, a … g): each round writes d and h. */
function compress(block: usize): void {
  let a = load<u32>(H), b = load<u32>(H, 4), c = load<u32>(H, 8), d = load<u32>(H, 12);
  let e = load<u32>(H, 16), f = load<u32>(H, 20), g = load<u32>(H, 24), h = load<u32>(H, 28);
  let w0 = word(block, 0), w1 = word(block, 1), w2 = word(block, 2), w3 = word(block, 3);
  let w4 = word(block, 4), w5 = word(block, 5), w6 = word(block, 6), w7 = word(block, 7);
  let w8 = word(block, 8), w9 = word(block, 9), w10 = word(block, 10), w11 = word(block, 11);
  let w12 = word(block, 12), w13 = word(block, 13), w14 = word(block, 14), w15 = word(block, 15);
  let t: u32;
  // Four times sixteen rounds (k: their constants); from the second on, the next sixteen schedule words first.
  for (let k = K; k < K + 256; k += 64) {
    if (k > K) {
      w0 += sigma0(w1) + w9 + sigma1(w14);
      w1 += sigma0(w2) + w10 + sigma1(w15);
      w2 += sigma0(w3) + w11 + sigma1(w0);
      w3 += sigma0(w4) + w12 + sigma1(w1);
      w4 += sigma0(w5) + w13 + sigma1(w2);
      w5 += sigma0(w6) + w14 + sigma1(w3);
      w6 += sigma0(w7) + w15 + sigma1(w4);
      w7 += sigma0(w8) + w0 + sigma1(w5);
      w8 += sigma0(w9) + w1 + sigma1(w6);
      w9 += sigma0(w10) + w2 + sigma1(w7);
      w10 += sigma0(w11) + w3 + sigma1(w8);
      w11 += sigma0(w12) + w4 + sigma1(w9);
      w12 += sigma0(w13) + w5 + sigma1(w10);
      w13 += sigma0(w14) + w6 + sigma1(w11);
      w14 += sigma0(w15) + w7 + sigma1(w12);
      w15 += sigma0(w0) + w8 + sigma1(w13);
    }
    t = bigSigma1(e) + (ch(e, f, g) + (h + load<u32>(k, 0) + w0)); d += t; h = (bigSigma0(a) + maj(a, b, c)) + t;
    t = bigSigma1(d) + (ch(d, e, f) + (g + load<u32>(k, 4) + w1)); c += t; g = (bigSigma0(h) + maj(h, a, b)) + t;
    t = bigSigma1(c) + (ch(c, d, e) + (f + load<u32>(k, 8) + w2)); b += t; f = (bigSigma0(g) + maj(g, h, a)) + t;
    t = bigSigma1(b) + (ch(b, c, d) + (e + load<u32>(k, 12) + w3)); a += t; e = (bigSigma0(f) + maj(f, g, h)) + t;
    t = bigSigma1(a) + (ch(a, b, c) + (d + load<u32>(k, 16) + w4)); h += t; d = (bigSigma0(e) + maj(e, f, g)) + t;
    t = bigSigma1(h) + (ch(h, a, b) + (c + load<u32>(k, 20) + w5)); g += t; c = (bigSigma0(d) + maj(d, e, f)) + t;
    t = bigSigma1(g) + (ch(g, h, a) + (b + load<u32>(k, 24) + w6)); f += t; b = (bigSigma0(c) + maj(c, d, e)) + t;
    t = bigSigma1(f) + (ch(f, g, h) + (a + load<u32>(k, 28) + w7)); e += t; a = (bigSigma0(b) + maj(b, c, d)) + t;
    t = bigSigma1(e) + (ch(e, f, g) + (h + load<u32>(k, 32) + w8)); d += t; h = (bigSigma0(a) + maj(a, b, c)) + t;
    t = bigSigma1(d) + (ch(d, e, f) + (g + load<u32>(k, 36) + w9)); c += t; g = (bigSigma0(h) + maj(h, a, b)) + t;
    t = bigSigma1(c) + (ch(c, d, e) + (f + load<u32>(k, 40) + w10)); b += t; f = (bigSigma0(g) + maj(g, h, a)) + t;
    t = bigSigma1(b) + (ch(b, c, d) + (e + load<u32>(k, 44) + w11)); a += t; e = (bigSigma0(f) + maj(f, g, h)) + t;
    t = bigSigma1(a) + (ch(a, b, c) + (d + load<u32>(k, 48) + w12)); h += t; d = (bigSigma0(e) + maj(e, f, g)) + t;
    t = bigSigma1(h) + (ch(h, a, b) + (c + load<u32>(k, 52) + w13)); g += t; c = (bigSigma0(d) + maj(d, e, f)) + t;
    t = bigSigma1(g) + (ch(g, h, a) + (b + load<u32>(k, 56) + w14)); f += t; b = (bigSigma0(c) + maj(c, d, e)) + t;
    t = bigSigma1(f) + (ch(f, g, h) + (a + load<u32>(k, 60) + w15)); e += t; a = (bigSigma0(b) + maj(b, c, d)) + t;
  }
  store<u32>(H, load<u32>(H) + a); store<u32>(H, load<u32>(H, 4) + b, 4);
  store<u32>(H, load<u32>(H, 8) + c, 8); store<u32>(H, load<u32>(H, 12) + d, 12);
  store<u32>(H, load<u32>(H, 16) + e, 16); store<u32>(H, load<u32>(H, 20) + f, 20);
  store<u32>(H, load<u32>(H, 24) + g, 24); store<u32>(H, load<u32>(H, 28) + h, 28);
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
  // The last bytes, 0x80, zeros and the bit length, in one or two blocks (word-wide copies, no reads past `len`).
  const rest = len - off;
  const src = ptr + off;
  let i: usize = 0;
  for (; i + 8 <= rest; i += 8) store<u64>(TAIL + i, load<u64>(src + i));
  for (; i < rest; i++) store<u8>(TAIL + i, load<u8>(src + i));
  store<u8>(TAIL + rest, 0x80);
  const tailLen: usize = rest < 56 ? 64 : 128;
  for (i = rest + 1; (i & 7) != 0; i++) store<u8>(TAIL + i, 0);
  for (; i < tailLen - 8; i += 8) store<u64>(TAIL + i, 0);
  const bits = <u64>len << 3;
  store<u32>(TAIL + tailLen - 8, swap32(<u32>(bits >>> 32)));
  store<u32>(TAIL + tailLen - 4, swap32(<u32>bits));
  compress(TAIL);
  if (tailLen == 128) compress(TAIL + 64);
  // The tail holds the end of the message (all of a key shorter than 56 bytes): no copy of a key outlives the call.
  for (i = 0; i < tailLen; i += 8) store<u64>(TAIL + i, 0);
  for (i = 0; i < 32; i += 4) store<u32>(out + i, swap32(load<u32>(H + i)));
}
