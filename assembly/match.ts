// Request → API: first API in configuration order whose path prefix, host and method all match; plus the
// method-blind and host-blind lookups the request path uses to keep protected paths closed (docs/filter.md).

import { Api } from "./config/model";
import { indexOfEither, lowerAscii, sameBytes } from "./bytes";
import { elementAt } from "./element";

/**
 * A byte of a host name after lowercasing: a-z 0-9 - . _ (RFC 3986 also allows sub-delims and escapes in a
 * reg-name, but no DNS name has them, and an upstream could read "shop.example.com,x" or "%73hop…" as the host).
 */
@inline function isHostByte(c: u32): bool {
  return c - 0x61 < 26 || c - 0x30 < 10 || c == 0x2d || c == 0x2e || c == 0x5f;
}

/** A byte valid inside an IP literal's brackets (IPv6, IPv4-embedded, zone id): hex, ':', '.', unreserved. */
@inline function isLiteralByte(c: u32): bool {
  return c - 0x61 < 26 || c - 0x30 < 10 || c == 0x3a || c == 0x2e || c == 0x2d || c == 0x5f || c == 0x7e || c == 0x25;
}

/**
 * Writes the authority as Envoy compares it to `dst` (room for `len` bytes) and returns the length, or 0 when it
 * holds no usable host: lowercased, userinfo ("user@") and port (":digits", or a bare ':') removed, one trailing dot
 * removed. "[::1]:8080" keeps its brackets. Unusable: empty, a byte not valid in a host name (anything but
 * a-z 0-9 - . _ outside brackets: space, '/', '%', ',', a stray ':', control or non-ASCII bytes), or an empty label
 * ("a..b", ".a"), which no DNS name has.
 */
export function normalizeAuthority(src: usize, len: usize, dst: usize): usize {
  // Userinfo ends at the last '@' (a '@' is not valid in a host, so any earlier one is userinfo too).
  let start: usize = 0;
  for (let i = len; i > 0; i--) {
    if (load<u8>(src + i - 1) == 0x40) { start = i; break; }
  }
  let end = len;
  for (let i = len; i > start; i--) {
    const c = load<u8>(src + i - 1);
    if (c == 0x3a) { end = i - 1; break; }
    if (c < 0x30 || c > 0x39) break;
  }
  if (end <= start) return 0;
  const n = end - start;
  if (load<u8>(src + start) == 0x5b) {
    // IP literal: "[" literal-bytes "]", nothing after the bracket but the port already removed.
    if (n < 3 || load<u8>(src + end - 1) != 0x5d) return 0;
    store<u8>(dst, 0x5b);
    for (let i: usize = 1; i < n - 1; i++) {
      const c = lowerAscii(load<u8>(src + start + i));
      if (!isLiteralByte(c)) return 0;
      store<u8>(dst + i, <u8>c);
    }
    store<u8>(dst + n - 1, 0x5d);
    return n;
  }
  let o: usize = n;
  if (load<u8>(src + end - 1) == 0x2e) o--; // "shop.example.com." is the same name, fully qualified
  let prev: u32 = 0x2e; // a leading '.' is an empty label
  for (let i: usize = 0; i < o; i++) {
    const c = lowerAscii(load<u8>(src + start + i));
    if (!isHostByte(c) || (c == 0x2e && prev == 0x2e)) return 0;
    store<u8>(dst + i, <u8>c);
    prev = c;
  }
  if (prev == 0x2e) return 0; // empty: "." alone, or "a.." (two trailing dots)
  return o;
}

/** Length of the path before any '?' (and '#', which clients should not send but may). */
export function pathLength(path: usize, len: usize): usize {
  return indexOfEither(path, 0, len, 0x3f, 0x23);
}

@inline function prefixMatches(api: Api, path: usize, pathLen: usize): bool {
  const pl = <usize>api.prefix.byteLength;
  return pl <= pathLen && sameBytes(path, changetype<usize>(api.prefix), pl);
}

function hostMatches(api: Api, host: usize, hostLen: usize): bool {
  const n = api.hosts.length;
  if (n == 0) return true;
  for (let i = 0; i < n; i++) {
    const h = elementAt(api.hosts, i);
    const hp = changetype<usize>(h);
    const hl = <usize>h.byteLength;
    if (elementAt(api.wildcard, i)) {
      // ".example.com" suffix with at least one char before it: subdomains only, not the apex.
      if (hostLen > hl && sameBytes(host + hostLen - hl, hp, hl)) return true;
    } else if (hostLen == hl && sameBytes(host, hp, hl)) return true;
  }
  return false;
}

function methodMatches(api: Api, method: usize, methodLen: usize): bool {
  const n = api.methods.length;
  if (n == 0) return true;
  for (let i = 0; i < n; i++) {
    const m = elementAt(api.methods, i);
    if (<usize>m.byteLength == methodLen && sameBytes(changetype<usize>(m), method, methodLen)) return true;
  }
  return false;
}

/** Index of the first matching API, or -1. `host` must already be normalised, `pathLen` exclude the query. */
@inline export function matchApi(apis: Api[], method: usize, methodLen: usize, host: usize, hostLen: usize, path: usize, pathLen: usize): i32 {
  for (let i = 0; i < apis.length; i++) {
    const api = elementAt(apis, i);
    if (!prefixMatches(api, path, pathLen)) continue;
    if (!hostMatches(api, host, hostLen)) continue;
    if (!methodMatches(api, method, methodLen)) continue;
    return i;
  }
  return -1;
}

/**
 * Index of the first API from `from` on whose path prefix and host match, whatever the method, or -1. When
 * matchApi found nothing but this finds one, the request is on a protected path with a method no API there lists.
 */
export function matchPathHost(apis: Api[], host: usize, hostLen: usize, path: usize, pathLen: usize, from: i32): i32 {
  for (let i = from; i < apis.length; i++) {
    const api = elementAt(apis, i);
    if (prefixMatches(api, path, pathLen) && hostMatches(api, host, hostLen)) return i;
  }
  return -1;
}

/** Whether some host-restricted API's path prefix matches: such a path needs a usable host to be decided. */
export function hostRestrictedPrefix(apis: Api[], path: usize, pathLen: usize): bool {
  for (let i = 0; i < apis.length; i++) {
    const api = elementAt(apis, i);
    if (api.hosts.length > 0 && prefixMatches(api, path, pathLen)) return true;
  }
  return false;
}
