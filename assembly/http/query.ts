// Query-string handling on the raw :path bytes: find a parameter, and rebuild the path without given parameters.

import { indexOfEither } from "../bytes";
import { ByteSink } from "../sink";
import { decodedEquals } from "../percent";

/** Offset of the '?' in the path, or len. */
export function queryStart(path: usize, len: usize): usize {
  return indexOfEither(path, 0, len, 0x3f, 0x3f);
}

/** End of the query: the '#' after `q`, or len. */
function queryEnd(path: usize, len: usize, q: usize): usize {
  return indexOfEither(path, q, len, 0x23, 0x23);
}

/** Result of findParam: value range within the path. */
export let paramValue: usize = 0;
export let paramValueLen: usize = 0;

/** Finds the first parameter whose percent-decoded name is `name`; sets paramValue/paramValueLen (raw bytes). */
export function findParam(path: usize, len: usize, name: usize, nameLen: usize): bool {
  const q = queryStart(path, len);
  if (q >= len) return false;
  const end = queryEnd(path, len, q);
  let i = q + 1;
  while (i <= end) {
    let j = i;
    while (j < end && load<u8>(path + j) != 0x26) j++;
    // Parameter [i, j).
    let eq = i;
    while (eq < j && load<u8>(path + eq) != 0x3d) eq++;
    if (decodedEquals(path + i, eq - i, name, nameLen)) {
      paramValue = eq < j ? path + eq + 1 : path + j;
      paramValueLen = eq < j ? j - eq - 1 : 0;
      return true;
    }
    i = j + 1;
  }
  return false;
}

/**
 * Whether the query has a parameter whose percent-decoded name is one of `names` (ptr, len pairs). `first` (256
 * flags) marks the bytes a parameter name can start with to be one of them (a name's first byte, '%', and '+' for a
 * name starting with a space): other parameters are passed over without decoding. Most queries have no key
 * parameter, and this is asked on every allowed request.
 */
@inline export function hasAnyParam(path: usize, len: usize, names: StaticArray<usize>, count: i32, first: usize): bool {
  let i = queryStart(path, len) + 1;
  while (i <= len) {
    // The parameter ends at '&'; the query at '#'.
    const j = indexOfEither(path, i, len, 0x26, 0x23);
    if (i < j && load<u8>(first + <usize>load<u8>(path + i)) != 0) {
      const eq = indexOfEither(path, i, j, 0x3d, 0x3d);
      for (let k = 0; k < count; k++) {
        if (decodedEquals(path + i, eq - i, unchecked(names[k * 2]), unchecked(names[k * 2 + 1]))) return true;
      }
    }
    if (j >= len || load<u8>(path + j) == 0x23) return false;
    i = j + 1;
  }
  return false;
}

/**
 * Writes the path without every parameter whose name is one of `names` (views: ptr, len pairs) into `out`.
 * Returns false when nothing was removed (out is then unspecified). Other parameters keep their bytes and order.
 */
export function pathWithout(path: usize, len: usize, names: StaticArray<usize>, count: i32, out: ByteSink): bool {
  const q = queryStart(path, len);
  if (q >= len) return false;
  const end = queryEnd(path, len, q);
  out.reset();
  out.bytes(path, q);
  let removed = false;
  let kept = 0;
  let i = q + 1;
  while (i <= end) {
    let j = i;
    while (j < end && load<u8>(path + j) != 0x26) j++;
    let eq = i;
    while (eq < j && load<u8>(path + eq) != 0x3d) eq++;
    let drop = false;
    for (let k = 0; k < count; k++) {
      const np = unchecked(names[k * 2]);
      const nl = unchecked(names[k * 2 + 1]);
      if (decodedEquals(path + i, eq - i, np, nl)) { drop = true; break; }
    }
    if (drop) removed = true;
    else if (j > i) {
      out.byte(kept == 0 ? 0x3f : 0x26);
      out.bytes(path + i, j - i);
      kept++;
    }
    i = j + 1;
  }
  if (end < len) out.bytes(path + end, len - end);
  return removed;
}
