// Credentials: where the API key is in a request (the configured key locations, in order) and hiding it from the
// forwarded request (hideCredentials). The request scan (request.ts) shows this module every header whose name has
// a key location's length; the module remembers, per location, the first header of that name, and which headers
// are credential headers to hide. Per-request state lives here, reset by begin().

import { PairTable } from "../abi/pairs";
import { ab, abLen, sameBytes, startsWithIgnoreCase, zeroBytes } from "../bytes";
import { Config, KeyLocation } from "../config/model";
import { elementAt } from "../element";
import { percentDecode } from "../percent";
import { ByteSink } from "../sink";
import { findParam, hasAnyParam, paramValue, paramValueLen, pathWithout } from "./query";

/** findCredential results. */
export const CRED_NONE = 0;
/** A key is there but cannot be one: longer than MAX_KEY_BYTES, or bad percent-encoding in the query. */
export const CRED_INVALID = 1;
export const CRED_FOUND = 2;

export const MAX_KEY_BYTES: usize = 256;
/** Key locations a configuration may have (config/decode.ts). */
const MAX_LOCATIONS = 8;

// Percent-decoding never grows, and a raw value over 3 × 256 bytes cannot decode to ≤ 256: 768 bytes suffice.
const DECODED = memory.data(<i32>MAX_KEY_BYTES * 3);
/** Per key location: the index of the first header with its name, or -1. */
const FIRST = memory.data(MAX_LOCATIONS * 4);
/**
 * Headers named like a header key location, to hide: the index, with HIDE_ALWAYS set when a location of that name
 * has no prefix (else the prefix is checked when hiding).
 */
const NAMED = memory.data(MAX_LOCATIONS * 4);
const HIDE_ALWAYS: i32 = 1 << 30;
let namedCount = 0;
/** Named headers beyond NAMED's room (a request repeating key headers): hide() then looks at every header. */
let namedOverflow = false;

/** The key found by findCredential (valid until the request is decided, then wiped by forget()). */
export let keyPtr: usize = 0;
export let keyLen: usize = 0;
/** Where the key was in the request as sent (the header value after its prefix, or the raw query value). */
let rawPtr: usize = 0;
let rawLen: usize = 0;
/** Bytes of DECODED a query key may have been decoded into (also when decoding failed half-way). */
let decodedLen: usize = 0;

/** Starts a request. */
@inline export function begin(): void {
  // MAX_LOCATIONS (8) i32s of -1.
  store<i64>(FIRST, -1); store<i64>(FIRST, -1, 8); store<i64>(FIRST, -1, 16); store<i64>(FIRST, -1, 24);
  namedCount = 0;
  namedOverflow = false;
  keyPtr = 0;
  keyLen = 0;
  rawPtr = 0;
  rawLen = 0;
  decodedLen = 0;
}

/** Header i (name kp, kl) has the length of some header key location's name: note it if it is one. */
export function noteHeader(cfg: Config, i: i32, kp: usize, kl: usize): void {
  const locs = cfg.locations;
  let named = false, always = false;
  for (let l = 0; l < locs.length && l < MAX_LOCATIONS; l++) {
    const loc = elementAt(locs, l);
    if (loc.isQuery || abLen(loc.name) != kl || !sameBytes(ab(loc.name), kp, kl)) continue;
    named = true;
    if (abLen(loc.prefix) == 0) always = true;
    const first = FIRST + (<usize>l << 2);
    if (load<i32>(first) < 0) store<i32>(first, i);
  }
  if (!named) return;
  if (namedCount < MAX_LOCATIONS) {
    store<i32>(NAMED + (<usize>namedCount << 2), always ? i | HIDE_ALWAYS : i);
    namedCount++;
  } else {
    namedOverflow = true;
  }
}

/**
 * Finds the key per keyLocations (first location holding a non-empty one wins; for a header location only the first
 * header of that name counts, after its prefix, matched case-insensitively). A query key is percent-decoded.
 */
@inline export function findCredential(cfg: Config, t: PairTable, path: usize, pathLen: usize): i32 {
  const locs = cfg.locations;
  for (let l = 0; l < locs.length && l < MAX_LOCATIONS; l++) {
    const loc: KeyLocation = elementAt(locs, l);
    if (loc.isQuery) {
      if (!findParam(path, pathLen, ab(loc.name), abLen(loc.name)) || paramValueLen == 0) continue;
      rawPtr = paramValue;
      rawLen = paramValueLen;
      if (rawLen > MAX_KEY_BYTES * 3) return CRED_INVALID;
      decodedLen = rawLen; // decoding never grows
      const n = percentDecode(rawPtr, rawLen, DECODED);
      if (n <= 0) return CRED_INVALID;
      keyPtr = DECODED;
      keyLen = <usize>n;
    } else {
      const i = load<i32>(FIRST + (<usize>l << 2));
      if (i < 0) continue;
      let vp = t.valuePtr(i), vl = t.valueLen(i);
      const pl = abLen(loc.prefix);
      if (pl > 0) {
        if (!startsWithIgnoreCase(vp, vl, ab(loc.prefix), pl)) continue;
        vp += pl; vl -= pl;
      }
      if (vl == 0) continue;
      rawPtr = keyPtr = vp;
      rawLen = keyLen = vl;
    }
    return keyLen > MAX_KEY_BYTES ? CRED_INVALID : CRED_FOUND;
  }
  return CRED_NONE;
}

/** Whether header i is a credential header to hide: named like a header key location, with its prefix if any. */
@inline function isCredentialHeader(cfg: Config, t: PairTable, i: i32): bool {
  const kp = t.keyPtr(i), kl = t.keyLen(i);
  const locs = cfg.locations;
  for (let l = 0; l < locs.length; l++) {
    const loc = elementAt(locs, l);
    if (loc.isQuery || abLen(loc.name) != kl || !sameBytes(ab(loc.name), kp, kl)) continue;
    const pl = abLen(loc.prefix);
    if (pl == 0 || startsWithIgnoreCase(t.valuePtr(i), t.valueLen(i), ab(loc.prefix), pl)) return true;
  }
  return false;
}

/**
 * With hideCredentials, leaves every credential header out of the forwarded request (`t` marks) and every key query
 * parameter out of its :path (pair `pathIdx`, rebuilt in `newPath`, only when it has one).
 */
@inline export function hideCredentials(cfg: Config, t: PairTable, pathIdx: i32, newPath: ByteSink): void {
  if (!cfg.hideCredentials) return;
  if (namedOverflow) {
    for (let i = 0; i < t.count; i++) if (isCredentialHeader(cfg, t, i)) t.skip(i);
  } else {
    for (let j = 0; j < namedCount; j++) {
      const n = load<i32>(NAMED + (<usize>j << 2));
      const i = n & ~HIDE_ALWAYS;
      if ((n & HIDE_ALWAYS) != 0 || isCredentialHeader(cfg, t, i)) t.skip(i);
    }
  }
  if (cfg.stripQueryCount == 0 || pathIdx < 0) return;
  const p = t.valuePtr(pathIdx), n = t.valueLen(pathIdx);
  // Most paths carry no key parameter: look before copying.
  if (hasAnyParam(p, n, cfg.stripQuery, cfg.stripQueryCount, changetype<usize>(cfg.stripQueryFirst)) &&
      pathWithout(p, n, cfg.stripQuery, cfg.stripQueryCount, newPath)) {
    t.replace(pathIdx, newPath.ptr, newPath.len);
  }
}

/** Whether findCredential found something where a key goes (a key or not): forget() has a copy to wipe. */
export function credentialSeen(): bool { return rawLen > 0; }

/**
 * Wipes the request's copies of the key once the request is decided and forwarded or answered: the decoded query
 * key, and the key as sent in the host-written header block (which stays in the callback arena until overwritten).
 * Nothing derived from a key is kept but the table index of its digest.
 */
@inline export function forget(): void {
  zeroBytes(DECODED, decodedLen);
  zeroBytes(rawPtr, rawLen);
  keyPtr = 0;
  keyLen = 0;
  rawPtr = 0;
  rawLen = 0;
  decodedLen = 0;
}
