// An API's operations (docs/filter-config.md "Operations"): method + path template, compiled once per configuration
// into a segment trie that the request path walks without allocating, at a cost independent of the number of
// operations. Each trie node has its literal children in one per-API open-addressing table keyed by (parent node,
// segment bytes), at most one `{param}` child and at most one `*` child, and a small list of (method, operation) for
// the templates ending there. Matching tries, at each segment, the literal child, then the param child, then the
// wildcard, backtracking when a branch finds no operation with the request's method. A node is reached only by its
// one path from the root, always after the same number of segments, so a request visits every node at most once.

import { Limit } from "./config/model";
import { ab, abLen, bytesEqual, sameBytes } from "./bytes";

export const SEG_LITERAL = 0;
export const SEG_PARAM = 1;
export const SEG_WILDCARD = 2;

// What validateTemplate reports (0 = a valid template).
export const T_OK = 0;
export const T_SYNTAX = 1;
export const T_WILDCARD_LAST = 2;
export const T_DOT = 3;
export const T_ESCAPE = 4;
export const T_PARAM = 5;

@inline function isUnreserved(c: u32): bool {
  return c - 0x30 < 10 || (c | 0x20) - 0x61 < 26 || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e;
}

/** A raw byte of a literal segment in normalized form: unreserved, or one of !$&'()*+,=:@ (control/path-prefix.ts). */
@inline function isRawByte(c: u32): bool {
  return isUnreserved(c) || c == 0x21 || c == 0x24 || c == 0x26 || c == 0x27 || c == 0x28 || c == 0x29 ||
    c == 0x2a || c == 0x2b || c == 0x2c || c == 0x3d || c == 0x3a || c == 0x40;
}

@inline function upperHex(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  if (c - 0x41 < 6) return <i32>(c - 0x41 + 10);
  return -1;
}

/**
 * Checks a template (already known to start with '/', ≤ 1024 bytes): segments separated by '/', each a literal in
 * normalized form (raw bytes as above, escapes `%XX` in uppercase hex of a byte that is neither unreserved nor '/'
 * nor '\'; not "." or ".."), `{name}` (1-64 bytes of 0x21-0x7e but '/', '{', '}'), or `*` as the last segment. No
 * empty segment but a trailing one ("/users/" is its own template; "/" is the root).
 */
export function validateTemplate(p: usize, n: usize): i32 {
  let s: usize = 1;
  for (;;) {
    let e = s;
    while (e < n && load<u8>(p + e) != 0x2f) e++;
    const len = e - s;
    const last = e >= n;
    if (len == 0) {
      if (!last) return T_SYNTAX; // "//"
    } else if (len == 1 && load<u8>(p + s) == 0x2a) {
      if (!last) return T_WILDCARD_LAST;
    } else if (load<u8>(p + s) == 0x7b) {
      if (len < 3 || len > 66 || load<u8>(p + e - 1) != 0x7d) return T_PARAM;
      for (let i = s + 1; i < e - 1; i++) {
        const c = <u32>load<u8>(p + i);
        if (c < 0x21 || c > 0x7e || c == 0x2f || c == 0x7b || c == 0x7d) return T_PARAM;
      }
    } else {
      if ((len == 1 || len == 2) && load<u8>(p + s) == 0x2e && load<u8>(p + e - 1) == 0x2e) return T_DOT;
      for (let i = s; i < e; i++) {
        const c = <u32>load<u8>(p + i);
        if (c == 0x25) {
          if (i + 2 >= e) return T_ESCAPE;
          const h = upperHex(<u32>load<u8>(p + i + 1)), l = upperHex(<u32>load<u8>(p + i + 2));
          if (h < 0 || l < 0) return T_ESCAPE;
          const v = <u32>((h << 4) | l);
          if (isUnreserved(v) || v == 0x2f || v == 0x5c) return T_ESCAPE;
          i += 2;
        } else if (!isRawByte(c)) return T_SYNTAX;
      }
    }
    if (last) return T_OK;
    s = e + 1;
  }
  return T_OK; // not reached: the last segment returns above
}

/**
 * Whether a template can match a path that starts with `prefix` (so that it is reachable under its API): its bytes
 * equal the prefix's up to the prefix's end, or until a `{param}` or `*` segment begins, which may match anything.
 */
export function templateUnderPrefix(t: usize, tn: usize, prefix: usize, pn: usize): bool {
  for (let i: usize = 0; i < pn; i++) {
    if (i >= tn) return false;
    const c = load<u8>(t + i);
    // A `{param}` or a final `*` segment starts here: it may match whatever the prefix continues with.
    if (i > 0 && load<u8>(t + i - 1) == 0x2f && (c == 0x7b || (c == 0x2a && i + 1 == tn))) return true;
    if (c != load<u8>(prefix + i)) return false;
  }
  return true;
}

@inline function segmentHash(parent: i32, p: usize, n: usize): u32 {
  let h: u32 = 2166136261 ^ <u32>parent;
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) h = (h ^ load<u32>(p + i)) * 16777619;
  for (; i < n; i++) h = (h ^ load<u8>(p + i)) * 16777619;
  h = (h ^ <u32>n) * 16777619;
  return h ^ (h >>> 15);
}

/** A hash of `n` bytes (operation ids: duplicates found in linear time at configuration). */
export function bytesHash(p: usize, n: usize): u32 {
  return segmentHash(-1, p, n);
}

/** One operation as configured. */
export class Operation {
  /** Its default limits (docs/filter-config.md "Limits that compose"), resolved at configuration; null = none. */
  limits: Limit[] | null = null;
  constructor(public id: ArrayBuffer, public method: ArrayBuffer, public path: ArrayBuffer, public cost: u32) {}
}

/** What build() reports (the index of the offending operation in `dup`). */
export const BUILD_OK = 0;
export const BUILD_DUPLICATE = 1;

/** The compiled operations of one API. */
export class Operations {
  ops: Operation[] = [];
  /** Per node: its param child, its wildcard child (-1: none), and its (method, operation) list in `mOp`. */
  param: StaticArray<i32> = new StaticArray<i32>(0);
  wild: StaticArray<i32> = new StaticArray<i32>(0);
  mStart: StaticArray<i32> = new StaticArray<i32>(0);
  mCount: StaticArray<i32> = new StaticArray<i32>(0);
  /** Operation indexes grouped by node (node n: mStart[n] … + mCount[n]), in configuration order. */
  mOp: StaticArray<i32> = new StaticArray<i32>(0);
  /** Literal edges, open addressing (capacity a power of two): parent (-1 = empty slot), hash, segment, child. */
  eParent: StaticArray<i32> = new StaticArray<i32>(0);
  eHash: StaticArray<u32> = new StaticArray<u32>(0);
  eSeg: StaticArray<usize> = new StaticArray<usize>(0);
  eLen: StaticArray<i32> = new StaticArray<i32>(0);
  eChild: StaticArray<i32> = new StaticArray<i32>(0);
  eMask: u32 = 0;
  /** The distinct methods of the operations, in configuration order (a 405's Allow is built from them). */
  methods: ArrayBuffer[] = [];
  /** The operation build() found a duplicate of, when it returns BUILD_DUPLICATE. */
  dup: i32 = -1;

  /** The slot holding edge (parent, segment), or the empty slot where it would go (the table is at most half full). */
  probe(parent: i32, p: usize, n: usize): u32 {
    const h = segmentHash(parent, p, n);
    let i = h & this.eMask;
    for (;;) {
      const ep = unchecked(this.eParent[i]);
      if (ep < 0 || (ep == parent && unchecked(this.eHash[i]) == h && <usize>unchecked(this.eLen[i]) == n &&
          sameBytes(unchecked(this.eSeg[i]), p, n))) return i;
      i = (i + 1) & this.eMask;
    }
    return i; // not reached
  }

  /** The literal child of `parent` for this segment, or -1 (an empty slot's child is -1). */
  @inline findEdge(parent: i32, p: usize, n: usize): i32 {
    return unchecked(this.eChild[this.probe(parent, p, n)]);
  }

  /** Compiles `ops` (validated templates). Returns BUILD_OK, or BUILD_DUPLICATE with `dup` set. */
  build(): i32 {
    const ops = this.ops;
    // Every segment of every template adds at most one node and one literal edge: size everything for that bound up
    // front (one pass), so the build needs no growable lists and no rehashing.
    let segments = 1;
    for (let k = 0; k < ops.length; k++) {
      const t = unchecked(ops[k]).path;
      const p = changetype<usize>(t), n = <usize>t.byteLength;
      for (let i: usize = 0; i < n; i++) if (load<u8>(p + i) == 0x2f) segments++;
    }
    let ecap = 8;
    while (ecap < segments * 2) ecap <<= 1; // at most half full
    const mask = <u32>(ecap - 1);
    const param = new StaticArray<i32>(segments), wild = new StaticArray<i32>(segments);
    const eParent = new StaticArray<i32>(ecap), eHash = new StaticArray<u32>(ecap), eSeg = new StaticArray<usize>(ecap);
    const eLen = new StaticArray<i32>(ecap), eChild = new StaticArray<i32>(ecap);
    param.fill(-1); wild.fill(-1); eParent.fill(-1); eChild.fill(-1);
    this.param = param; this.wild = wild;
    this.eParent = eParent; this.eHash = eHash; this.eSeg = eSeg; this.eLen = eLen; this.eChild = eChild;
    this.eMask = mask;
    let nodes = 1;
    const nodeOf = new StaticArray<i32>(ops.length);
    for (let k = 0; k < ops.length; k++) {
      const t = unchecked(ops[k]).path;
      const p = changetype<usize>(t), n = <usize>t.byteLength;
      let node = 0;
      let s: usize = 1;
      for (;;) {
        let e = s;
        while (e < n && load<u8>(p + e) != 0x2f) e++;
        const len = e - s;
        const c = len > 0 ? load<u8>(p + s) : 0;
        if (c == 0x7b || (c == 0x2a && len == 1)) {
          // {param} or the final '*': the node's one child of that kind.
          const list = c == 0x7b ? param : wild;
          let child = unchecked(list[node]);
          if (child < 0) { child = nodes++; unchecked(list[node] = child); }
          node = child;
        } else {
          const i = this.probe(node, p + s, len);
          let child = unchecked(eChild[i]);
          if (child < 0) {
            child = nodes++;
            unchecked(eParent[i] = node);
            // (hashed again rather than kept by probe(): matching stays free of memory writes, decision.ts)
            unchecked(eHash[i] = segmentHash(node, p + s, len));
            unchecked(eSeg[i] = p + s); // points into the operation's path, which `ops` keeps
            unchecked(eLen[i] = <i32>len);
            unchecked(eChild[i] = child);
          }
          node = child;
        }
        if (e >= n) break;
        s = e + 1;
      }
      unchecked(nodeOf[k] = node);
    }
    // Group operations by node (counting sort, configuration order kept) and reject duplicates: the same node (the
    // same template shape: parameter names do not count) with the same method.
    const mCount = new StaticArray<i32>(nodes), mStart = new StaticArray<i32>(nodes);
    for (let k = 0; k < ops.length; k++) unchecked(mCount[unchecked(nodeOf[k])]++);
    let acc = 0;
    for (let x = 0; x < nodes; x++) { unchecked(mStart[x] = acc); acc += unchecked(mCount[x]); }
    const mOp = new StaticArray<i32>(ops.length);
    this.mCount = mCount;
    this.mStart = mStart;
    this.mOp = mOp;
    // Counted again while filling, so methodAt sees only the operations placed so far.
    mCount.fill(0);
    for (let k = 0; k < ops.length; k++) {
      const node = unchecked(nodeOf[k]);
      const m = unchecked(ops[k]).method;
      if (this.methodAt(node, changetype<usize>(m), <usize>m.byteLength) >= 0) {
        this.dup = k;
        return BUILD_DUPLICATE;
      }
      unchecked(mOp[unchecked(mStart[node]) + unchecked(mCount[node])] = k);
      unchecked(mCount[node]++);
      let seen = false;
      for (let j = 0; j < this.methods.length; j++) if (bytesEqual(ab(unchecked(this.methods[j])), abLen(unchecked(this.methods[j])), ab(m), abLen(m))) seen = true;
      if (!seen) this.methods.push(m);
    }
    return BUILD_OK;
  }

  /** The operation at `node` with this method (methodLen 0: any method), or -1. */
  @inline methodAt(node: i32, method: usize, methodLen: usize): i32 {
    const from = unchecked(this.mStart[node]), to = from + unchecked(this.mCount[node]);
    for (let j = from; j < to; j++) {
      const k = unchecked(this.mOp[j]);
      if (methodLen == 0) return k;
      const m = unchecked(this.ops[k]).method;
      if (<usize>m.byteLength == methodLen && sameBytes(changetype<usize>(m), method, methodLen)) return k;
    }
    return -1;
  }

  /**
   * The best operation for the path's segments from `s` on (s > len: none left) under `node`: literal first, then
   * param, then wildcard, backtracking. Recursion depth ≤ the deepest template's segment count (≤ 513).
   */
  walk(node: i32, path: usize, len: usize, s: usize, method: usize, methodLen: usize): i32 {
    if (s > len) return this.methodAt(node, method, methodLen);
    let e = s;
    while (e < len && load<u8>(path + e) != 0x2f) e++;
    const child = this.findEdge(node, path + s, e - s);
    if (child >= 0) {
      const r = this.walk(child, path, len, e + 1, method, methodLen);
      if (r >= 0) return r;
    }
    if (e == s) return -1; // an empty (trailing) segment: only a literal "/" template ends here
    const pc = unchecked(this.param[node]);
    if (pc >= 0) {
      const r = this.walk(pc, path, len, e + 1, method, methodLen);
      if (r >= 0) return r;
    }
    const wc = unchecked(this.wild[node]);
    return wc >= 0 ? this.methodAt(wc, method, methodLen) : -1;
  }

  /** The operation a request matches (`path`: normalized, before '?', starting with '/'), or -1. */
  @inline match(path: usize, len: usize, method: usize, methodLen: usize): i32 {
    return this.walk(0, path, len, 1, method, methodLen);
  }
}
