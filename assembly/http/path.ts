// The request path as API matching sees it. Envoy only normalizes `:path` when `normalize_path` is on (off by
// default in Envoy; Istio turns it on), so the filter may see spellings that an upstream resolves to another path:
// `/%6Frders` or `//orders` (which would look unmatched and pass without a key) and `/orders/../admin` (which would
// be authorized as /orders). Matching therefore uses a normalized copy (the upstream still gets the raw path):
// percent-escapes of unreserved characters decoded, `\`, `%2F` and `%5C` read as `/`, `;` path parameters dropped
// from each segment (Tomcat and Spring route `/orders;jsessionid=1/x` and `/;/orders` as `/orders/x` and `/orders`),
// runs of slashes merged. A path with a `.` or `..` segment after that (`/..;/admin` included) is refused (400):
// clients resolve dot segments before sending, and guessing how the upstream would resolve them is exactly the
// ambiguity an attacker wants. An escaped `;` (`%3B`) is data, not a parameter, for those servers too: kept.

import { lanes, laneMask } from "../bytes";

@inline function hexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

@inline function isUnreserved(c: u32): bool {
  return c - 0x30 < 10 || (c | 0x20) - 0x61 < 26 || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e;
}

const PERCENT = lanes(0x25), BACKSLASH = lanes(0x5c), SEMICOLON = lanes(0x3b), SLASH = lanes(0x2f), DOT = lanes(0x2e);

/**
 * Whether `len` bytes of path (query excluded) could read differently once normalized: a '%', '\' or ';', a "//"
 * or "/.", or a '.' at the start. One pass, eight bytes at a time (every request's path goes through here).
 */
@inline export function pathNeedsNormalizing(p: usize, len: usize): bool {
  if (len > 0 && load<u8>(p) == 0x2e) return true; // a relative "." or ".." at the start
  let i: usize = 0;
  // x: bytes i … i+7; y: bytes i+1 … i+8, so a '/' in x with '/' or '.' at the same lane of y is a pair.
  for (; i + 9 <= len; i += 8) {
    const x = load<u64>(p + i), y = load<u64>(p + i + 1);
    if ((laneMask(x, PERCENT) | laneMask(x, BACKSLASH) | laneMask(x, SEMICOLON)) != 0) return true;
    if ((laneMask(x, SLASH) & (laneMask(y, SLASH) | laneMask(y, DOT))) != 0) return true;
  }
  for (; i < len; i++) {
    const c = load<u8>(p + i);
    if (c == 0x25 || c == 0x5c || c == 0x3b) return true; // '%', '\\' or ';'
    if (c == 0x2f && i + 1 < len) {
      const d = load<u8>(p + i + 1);
      if (d == 0x2f || d == 0x2e) return true; // "//" or "/."
    }
  }
  return false;
}

/**
 * Writes the normalized path to `dst` (room for `len` bytes: it never grows) and returns its length, or -1 when it
 * has a `.` or `..` segment. Escapes that are not unreserved characters (other than %2F / %5C) stay as they are.
 * A segment's `;params` (from a literal `;` to the segment's end) are dropped before the dot-segment check.
 */
export function normalizePath(src: usize, len: usize, dst: usize): isize {
  let o: usize = 0;
  let segStart: usize = 0;
  let inParams = false;
  let i: usize = 0;
  while (i <= len) {
    let sep: usize = 0;
    let c: u32 = 0;
    if (i < len) {
      c = <u32>load<u8>(src + i);
      if (c == 0x2f || c == 0x5c) sep = 1;
      else if (c == 0x25 && i + 2 < len) {
        const h = hexValue(<u32>load<u8>(src + i + 1)), l = hexValue(<u32>load<u8>(src + i + 2));
        if (h >= 0 && l >= 0) {
          const v = <u32>((h << 4) | l);
          if (v == 0x2f || v == 0x5c) sep = 3;
          else if (isUnreserved(v) && !inParams) {
            store<u8>(dst + o++, <u8>v);
            i += 3;
            continue;
          }
        }
      }
    }
    if (sep > 0 || i == len) {
      // End of a segment [segStart, o): refuse "." and "..".
      const n = o - segStart;
      if ((n == 1 || n == 2) && load<u8>(dst + segStart) == 0x2e && load<u8>(dst + o - 1) == 0x2e) return -1;
      if (i == len) break;
      if (o == 0 || load<u8>(dst + o - 1) != 0x2f) store<u8>(dst + o++, 0x2f);
      segStart = o;
      inParams = false;
      i += sep;
      continue;
    }
    if (c == 0x3b) inParams = true;
    if (!inParams) store<u8>(dst + o++, <u8>c);
    i++;
  }
  return <isize>o;
}
