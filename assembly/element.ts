// Unchecked element reads the hot path can afford. `unchecked(array[i])` compiles to a call of Array#__uget, which
// binaryen does not inline at this build's shrink level (measured: ~20 ns per request across the API lookups); this
// is the same load, inlined. Only for indexes already known to be in range.

@inline export function elementAt<T>(a: Array<T>, i: i32): T {
  return load<T>(a.dataStart + (<usize>i << alignof<T>()));
}
