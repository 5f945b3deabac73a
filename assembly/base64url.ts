// base64url without padding, as the configuration encodes key digests (43 chars ↔ 32 bytes).

function sextetSlow(c: u32): i32 {
  if (c - 0x41 < 26) return <i32>(c - 0x41);
  if (c - 0x61 < 26) return <i32>(c - 0x61 + 26);
  if (c - 0x30 < 10) return <i32>(c - 0x30 + 52);
  if (c == 0x2d) return 62;
  if (c == 0x5f) return 63;
  return -1;
}

// Byte → sextet (0xff = not base64url), filled at start: 10,000 digests must decode in well under a millisecond.
const TABLE = memory.data(256);
for (let c: u32 = 0; c < 256; c++) store<u8>(TABLE + c, <u8>sextetSlow(c));

@inline function sextet(c: u32): i32 {
  const v = load<u8>(TABLE + c);
  return v == 0xff ? -1 : <i32>v;
}

/**
 * Decodes exactly 43 base64url chars at `src` into 32 bytes at `dst`; false on a character outside the alphabet.
 * The last char's 2 spare bits are ignored (the schema's pattern allows any last char; duplicates are detected on
 * the decoded bytes).
 */
export function decodeDigest43(src: usize, dst: usize): bool {
  let acc: u32 = 0;
  let bits: u32 = 0;
  let o: usize = 0;
  for (let i: usize = 0; i < 43; i++) {
    const v = sextet(<u32>load<u8>(src + i));
    if (v < 0) return false;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      store<u8>(dst + o++, <u8>(acc >> bits));
      acc &= (1 << bits) - 1;
    }
  }
  return o == 32;
}
