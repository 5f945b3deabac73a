// Request → API: first API in configuration order whose path prefix, host and method all match.

import { Api } from "./config/model";
import { lowerAscii } from "./bytes";

/**
 * Writes the authority lowercased and without its port to `dst` (room for `len` bytes); returns the length.
 * "[::1]:8080" keeps its brackets; only a trailing ":digits" is a port.
 */
export function normalizeAuthority(src: usize, len: usize, dst: usize): usize {
  let end = len;
  for (let i = len; i > 0; i--) {
    const c = load<u8>(src + i - 1);
    if (c == 0x3a) { end = i - 1; break; }
    if (c < 0x30 || c > 0x39) break;
  }
  for (let i: usize = 0; i < end; i++) store<u8>(dst + i, <u8>lowerAscii(load<u8>(src + i)));
  return end;
}

/** Length of the path before any '?' (and '#', which clients should not send but may). */
export function pathLength(path: usize, len: usize): usize {
  for (let i: usize = 0; i < len; i++) {
    const c = load<u8>(path + i);
    if (c == 0x3f || c == 0x23) return i;
  }
  return len;
}

function hostMatches(api: Api, host: usize, hostLen: usize): bool {
  const n = api.hosts.length;
  if (n == 0) return true;
  for (let i = 0; i < n; i++) {
    const h = unchecked(api.hosts[i]);
    const hp = changetype<usize>(h);
    const hl = <usize>h.byteLength;
    if (unchecked(api.wildcard[i])) {
      // ".example.com" suffix with at least one char before it: subdomains only, not the apex.
      if (hostLen > hl && memory.compare(host + hostLen - hl, hp, hl) == 0) return true;
    } else if (hostLen == hl && memory.compare(host, hp, hl) == 0) return true;
  }
  return false;
}

function methodMatches(api: Api, method: usize, methodLen: usize): bool {
  const n = api.methods.length;
  if (n == 0) return true;
  for (let i = 0; i < n; i++) {
    const m = unchecked(api.methods[i]);
    if (<usize>m.byteLength == methodLen && memory.compare(changetype<usize>(m), method, methodLen) == 0) return true;
  }
  return false;
}

/** Index of the first matching API, or -1. `host` must already be normalised, `pathLen` exclude the query. */
export function matchApi(apis: Api[], method: usize, methodLen: usize, host: usize, hostLen: usize, path: usize, pathLen: usize): i32 {
  for (let i = 0; i < apis.length; i++) {
    const api = unchecked(apis[i]);
    const pl = <usize>api.prefix.byteLength;
    if (pl > pathLen || memory.compare(path, changetype<usize>(api.prefix), pl) != 0) continue;
    if (!hostMatches(api, host, hostLen)) continue;
    if (!methodMatches(api, method, methodLen)) continue;
    return i;
  }
  return -1;
}
