// The Allow header of a 405: the methods of every API whose path prefix and host match the request, in
// configuration order, each once, joined by ", " — or, for an API with operations, the methods of every operation
// whose template matches the path (in configuration order). Built into a fixed buffer (no
// allocation); a list that would not fit is cut at a whole method, since a shorter Allow is still a correct reply
// and a trap is not.

import { sameBytes } from "../bytes";
import { Api } from "../config/model";
import { matchPathHost } from "../match";
import { Operations } from "../operations";

const CAP: usize = 1024;
const BUF = memory.data(<i32>CAP);

/** Start of the value written by allowedMethods and operationMethods. */
export const ALLOW_PTR: usize = BUF;

let len: usize = 0;

function listed(m: usize, ml: usize): bool {
  let i: usize = 0;
  while (i < len) {
    let j = i;
    while (j < len && load<u8>(BUF + j) != 0x2c) j++;
    if (j - i == ml && sameBytes(BUF + i, m, ml)) return true;
    i = j + 2; // past ", "
  }
  return false;
}

/** Appends a method unless listed or it would not fit. */
function append(m: ArrayBuffer): void {
  const mp = changetype<usize>(m), ml = <usize>m.byteLength;
  if (listed(mp, ml)) return;
  const sep: usize = len > 0 ? 2 : 0;
  if (len + sep + ml > CAP) return;
  if (sep > 0) { store<u8>(BUF + len, 0x2c); store<u8>(BUF + len + 1, 0x20); }
  memory.copy(BUF + len + sep, mp, ml);
  len += sep + ml;
}

/** Writes the Allow value at ALLOW_PTR and returns its length (0 when no API matches path and host). */
export function allowedMethods(apis: Api[], host: usize, hostLen: usize, path: usize, pathLen: usize): usize {
  len = 0;
  let i = matchPathHost(apis, host, hostLen, path, pathLen, 0);
  while (i >= 0) {
    const methods = unchecked(apis[i]).methods;
    for (let k = 0; k < methods.length; k++) append(unchecked(methods[k]));
    i = matchPathHost(apis, host, hostLen, path, pathLen, i + 1);
  }
  return len;
}

/**
 * Writes the Allow value for an API's operations at ALLOW_PTR and returns its length: each method (in configuration
 * order) for which some operation's template matches `path`. Off the hot path: one match per distinct method.
 */
export function operationMethods(ops: Operations, path: usize, pathLen: usize): usize {
  len = 0;
  const methods = ops.methods;
  for (let i = 0; i < methods.length; i++) {
    const m = unchecked(methods[i]);
    if (ops.match(path, pathLen, changetype<usize>(m), <usize>m.byteLength) >= 0) append(m);
  }
  return len;
}
