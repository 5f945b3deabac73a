// Envoy's header-pair wire format: u32 N; N × (u32 key_len, u32 value_len); N × (key, NUL, value, NUL).
export type HeaderPairs = Array<[string, string]>;

/** Limits Envoy applies to guest-supplied pairs; anything over them, or malformed, is treated as an empty list. */
export const MAX_PAIRS_BYTES = 1024 * 1024;
export const MAX_PAIRS_COUNT = 1024;

const utf8 = new TextEncoder();
const decoder = new TextDecoder();

export function serializePairs(pairs: HeaderPairs): Uint8Array {
  const encoded = pairs.map(([k, v]) => [utf8.encode(k), utf8.encode(v)] as const);
  let size = 4 + encoded.length * 8;
  for (const [k, v] of encoded) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, encoded.length, true);
  let offset = 4;
  for (const [k, v] of encoded) {
    view.setUint32(offset, k.length, true);
    view.setUint32(offset + 4, v.length, true);
    offset += 8;
  }
  for (const [k, v] of encoded) {
    out.set(k, offset);
    offset += k.length + 1;
    out.set(v, offset);
    offset += v.length + 1;
  }
  return out;
}

/** Parses guest pairs; returns [] for anything Envoy would reject (size/count limits, truncation, NULs, trailing bytes). */
export function parsePairs(bytes: Uint8Array): HeaderPairs {
  if (bytes.length < 4 || bytes.length > MAX_PAIRS_BYTES) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  if (count > MAX_PAIRS_COUNT) return [];
  let offset = 4;
  if (offset + count * 8 > bytes.length) return [];
  const sizes: Array<[number, number]> = [];
  for (let n = 0; n < count; n++) {
    sizes.push([view.getUint32(offset, true), view.getUint32(offset + 4, true)]);
    offset += 8;
  }
  const pairs: HeaderPairs = [];
  for (const [klen, vlen] of sizes) {
    if (offset + klen + 1 + vlen + 1 > bytes.length) return [];
    const key = bytes.subarray(offset, offset + klen);
    offset += klen;
    if (bytes[offset] !== 0) return [];
    offset += 1;
    const value = bytes.subarray(offset, offset + vlen);
    offset += vlen;
    if (bytes[offset] !== 0) return [];
    offset += 1;
    pairs.push([decoder.decode(key), decoder.decode(value)]);
  }
  if (offset !== bytes.length) return [];
  return pairs;
}
