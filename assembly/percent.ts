// Percent-decoding of a query-string component (WHATWG form encoding: '+' is a space, as URLSearchParams
// writes it; '%2B' is a literal '+').

@inline function hexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

/**
 * Decodes `len` bytes at `src` into `dst` (which must have room for `len` bytes; decoding never grows).
 * Returns the decoded length, or -1 when a '%' is not followed by two hex digits.
 */
export function percentDecode(src: usize, len: usize, dst: usize): isize {
  let o: usize = 0;
  let i: usize = 0;
  while (i < len) {
    const c = <u32>load<u8>(src + i);
    if (c == 0x25) {
      if (i + 2 >= len) return -1;
      const h = hexValue(<u32>load<u8>(src + i + 1));
      const l = hexValue(<u32>load<u8>(src + i + 2));
      if (h < 0 || l < 0) return -1;
      store<u8>(dst + o++, <u8>((h << 4) | l));
      i += 3;
    } else {
      store<u8>(dst + o++, <u8>(c == 0x2b ? 0x20 : c));
      i++;
    }
  }
  return <isize>o;
}

/**
 * Whether the form-encoded component at `raw` decodes to exactly the `nameLen` bytes at `name`, without allocating.
 * Query parameter names are compared this way so `api%5Fkey` is the same parameter as `api_key` (as an upstream's
 * query parser would read it): otherwise such a copy of the key would neither be found nor hidden. A malformed
 * escape compares as its literal bytes.
 */
export function decodedEquals(raw: usize, rawLen: usize, name: usize, nameLen: usize): bool {
  let i: usize = 0;
  let o: usize = 0;
  while (i < rawLen) {
    if (o >= nameLen) return false;
    let c = <u32>load<u8>(raw + i);
    let step: usize = 1;
    if (c == 0x25 && i + 2 < rawLen) {
      const h = hexValue(<u32>load<u8>(raw + i + 1));
      const l = hexValue(<u32>load<u8>(raw + i + 2));
      if (h >= 0 && l >= 0) {
        c = <u32>((h << 4) | l);
        step = 3;
      }
    } else if (c == 0x2b) {
      c = 0x20;
    }
    if (c != <u32>load<u8>(name + o)) return false;
    o++;
    i += step;
  }
  return o == nameLen;
}
