// The key feed's shared-data layout (docs/filter.md, "Key feed"): one copy of the key set per Envoy process, in
// buckets. Pure encoding and decoding over raw bytes, no host calls, so tests/assembly/keyfeed.spec.ts covers it and
// bench/keyfeed-layout.ts (the bench's 1M-key populator) can be checked against it.
//
// Bucket value:  u32 generation, then entries.
// Entry:         digest[32] · u32 expiresAt (unix s, 0 = never) · u8 n · keyId[n] · u8 n · consumerId[n] · u8 n · planId[n]
// Meta value:    see META_* offsets below.
// Key names:     "tg:kf:m" (meta), "tg:kf:l" (lease), "tg:kf:" + slot ('a' | 'b') + bucket index in hex.

import { sha256 } from "../sha256";
import { writeU64 } from "../bytes";

export const ENTRY_FIXED: usize = 39; // 32 + 4 + 3 length bytes
export const MAX_ID: usize = 64;
export const MAX_ENTRY: usize = ENTRY_FIXED + 3 * MAX_ID;
/**
 * Average keys per bucket the bucket count is chosen for. 8, not 4: at 1M keys each bucket is an entry in Envoy's
 * shared-data map (~110 bytes of overhead each, twice: the replaced generation's emptied buckets stay), and 8 keeps
 * one Envoy under 128 MiB (docs/filter.md, "Key feed") for ~40 ns more per lookup (a ~650-byte bucket copied).
 */
export const TARGET_PER_BUCKET: f64 = 8;
export const MAX_BITS: u32 = 22;

export const META_MAGIC: u32 = 0x314b4754; // "TGK1"
export const META_GEN: usize = 4;        // u32, 0 = no set yet
export const META_BITS: usize = 8;       // u8
export const META_EPOCH_LEN: usize = 9;  // u8
export const META_OLD_BITS: usize = 10;  // u8: bits of the generation being emptied
export const META_COUNT: usize = 12;     // u32 keys in the set
export const META_REVISION: usize = 16;  // f64
export const META_DIGEST: usize = 24;    // 8 bytes, the set digest
export const META_OLD_GEN: usize = 32;   // u32: a replaced generation whose buckets are being emptied (0: none)
export const META_CLEAN_NEXT: usize = 36; // u32: next bucket of it to empty
export const META_LAST_GEN: usize = 40;  // u32: the last generation number handed to a snapshot attempt
export const META_EPOCH: usize = 44;     // epoch bytes
export const MAX_EPOCH: usize = 64;
export const META_SIZE: usize = META_EPOCH + MAX_EPOCH;

export const META_KEY = memory.data<u8>([0x74, 0x67, 0x3a, 0x6b, 0x66, 0x3a, 0x6d]); // "tg:kf:m"
export const LEASE_KEY = memory.data<u8>([0x74, 0x67, 0x3a, 0x6b, 0x66, 0x3a, 0x6c]); // "tg:kf:l"
export const FIXED_KEY_LEN: usize = 7;
export const MAX_BUCKET_KEY: usize = 7 + 6;

/** Bucket of a digest: its first `bits` bits (a SHA-256 is already uniform). */
@inline export function bucketOf(digest: usize, bits: u32): u32 {
  if (bits == 0) return 0;
  return bswap<u32>(load<u32>(digest)) >>> (32 - bits);
}

const HEXDIGITS = memory.data<u8>([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);

/** Writes the shared-data key of bucket `idx` of generation `gen` at dst; returns its length. */
export function bucketKey(dst: usize, gen: u32, idx: u32): usize {
  store<u8>(dst, 0x74); store<u8>(dst, 0x67, 1); store<u8>(dst, 0x3a, 2);
  store<u8>(dst, 0x6b, 3); store<u8>(dst, 0x66, 4); store<u8>(dst, 0x3a, 5);
  store<u8>(dst, (gen & 1) == 0 ? 0x61 : 0x62, 6);
  let n: usize = 1;
  let t = idx;
  while (t >= 16) { t >>>= 4; n++; }
  for (let i: usize = 0; i < n; i++) {
    store<u8>(dst + 7 + n - 1 - i, load<u8>(HEXDIGITS + <usize>((idx >>> (<u32>i * 4)) & 15)));
  }
  return 7 + n;
}

/** Bucket bits for about `keys` keys: TARGET_PER_BUCKET per bucket on average (0 … MAX_BITS). */
export function bitsFor(keys: f64): u32 {
  let bits: u32 = 0;
  while (bits < MAX_BITS && <f64>(1 << bits) * TARGET_PER_BUCKET < keys) bits++;
  return bits;
}

/** Size of the entry at p, or 0 when it does not fit in the `avail` bytes left (a malformed value). */
@inline export function entrySize(p: usize, avail: usize): usize {
  if (avail < ENTRY_FIXED) return 0;
  const kl = <usize>load<u8>(p, 36);
  if (avail < ENTRY_FIXED + kl) return 0;
  const cl = <usize>load<u8>(p + 37 + kl);
  if (avail < ENTRY_FIXED + kl + cl) return 0;
  const pl = <usize>load<u8>(p + 38 + kl + cl);
  const n = ENTRY_FIXED + kl + cl + pl;
  return n <= avail ? n : 0;
}

/** entrySize out of line, for the sync's callers (not on the request path): one copy instead of one per call site. */
export function entrySizeAt(p: usize, avail: usize): usize { return entrySize(p, avail); }

/**
 * Offset (from the value's start) of the entry with this digest in a bucket value of `n` bytes at `v`, or -1. The
 * generation word is not checked here.
 */
export function findEntry(v: usize, n: usize, digest: usize): i32 {
  const a = load<u64>(digest), b = load<u64>(digest, 8), c = load<u64>(digest, 16), d = load<u64>(digest, 24);
  let o: usize = 4;
  while (o < n) {
    const p = v + o;
    const size = entrySize(p, n - o);
    if (size == 0) return -1;
    if (load<u64>(p) == a && load<u64>(p, 8) == b && load<u64>(p, 16) == c && load<u64>(p, 24) == d) return <i32>o;
    o += size;
  }
  return -1;
}

/** Writes an entry at dst; returns its size. Ids are at most MAX_ID bytes (validated by the page parser). */
export function writeEntry(dst: usize, digest: usize, expiresAt: u32, keyId: usize, keyIdLen: usize,
  consumer: usize, consumerLen: usize, plan: usize, planLen: usize): usize {
  memory.copy(dst, digest, 32);
  store<u32>(dst, expiresAt, 32);
  let o: usize = 36;
  store<u8>(dst + o, <u8>keyIdLen); memory.copy(dst + o + 1, keyId, keyIdLen); o += 1 + keyIdLen;
  store<u8>(dst + o, <u8>consumerLen); memory.copy(dst + o + 1, consumer, consumerLen); o += 1 + consumerLen;
  store<u8>(dst + o, <u8>planLen); memory.copy(dst + o + 1, plan, planLen); o += 1 + planLen;
  return o;
}

// Field views of an entry (p = its first byte).
@inline export function entryExpires(p: usize): u32 { return load<u32>(p, 32); }
@inline export function entryKeyIdLen(p: usize): usize { return <usize>load<u8>(p, 36); }
@inline export function entryKeyId(p: usize): usize { return p + 37; }
@inline export function entryConsumerLen(p: usize): usize { return <usize>load<u8>(p + 37 + entryKeyIdLen(p)); }
@inline export function entryConsumer(p: usize): usize { return p + 38 + entryKeyIdLen(p); }
@inline export function entryPlanLen(p: usize): usize { return <usize>load<u8>(p + 38 + entryKeyIdLen(p) + entryConsumerLen(p)); }
@inline export function entryPlan(p: usize): usize { return p + 39 + entryKeyIdLen(p) + entryConsumerLen(p); }

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** base64url without padding of 32 bytes → 43 chars at dst. */
export function encodeDigest43(src: usize, dst: usize): void {
  let o: usize = 0;
  let i: usize = 0;
  for (; i + 3 <= 32; i += 3) {
    const v = (<u32>load<u8>(src + i) << 16) | (<u32>load<u8>(src + i + 1) << 8) | <u32>load<u8>(src + i + 2);
    store<u8>(dst + o, <u8>B64.charCodeAt(<i32>(v >>> 18)));
    store<u8>(dst + o + 1, <u8>B64.charCodeAt(<i32>((v >>> 12) & 63)));
    store<u8>(dst + o + 2, <u8>B64.charCodeAt(<i32>((v >>> 6) & 63)));
    store<u8>(dst + o + 3, <u8>B64.charCodeAt(<i32>(v & 63)));
    o += 4;
  }
  // 2 bytes left (32 = 30 + 2): 3 chars.
  const v = (<u32>load<u8>(src + 30) << 8) | <u32>load<u8>(src + 31);
  store<u8>(dst + o, <u8>B64.charCodeAt(<i32>(v >>> 10)));
  store<u8>(dst + o + 1, <u8>B64.charCodeAt(<i32>((v >>> 4) & 63)));
  store<u8>(dst + o + 2, <u8>B64.charCodeAt(<i32>((v << 2) & 63)));
}

const LINE = memory.data(43 + 3 * <i32>MAX_ID + 4 + 20);
const HASH = memory.data(32);

/**
 * XORs the entry's contribution to the set digest into the 8 bytes at acc: the first 8 bytes of SHA-256 of
 * digest "\n" keyId "\n" consumerId "\n" planId "\n" expiresAt (contracts/key-feed.ts entryLine/entryHash).
 */
export function xorEntryHash(entry: usize, acc: usize): void {
  encodeDigest43(entry, LINE);
  let o: usize = 43;
  store<u8>(LINE + o++, 0x0a);
  const kl = entryKeyIdLen(entry);
  memory.copy(LINE + o, entryKeyId(entry), kl); o += kl;
  store<u8>(LINE + o++, 0x0a);
  const cl = entryConsumerLen(entry);
  memory.copy(LINE + o, entryConsumer(entry), cl); o += cl;
  store<u8>(LINE + o++, 0x0a);
  const pl = entryPlanLen(entry);
  memory.copy(LINE + o, entryPlan(entry), pl); o += pl;
  store<u8>(LINE + o++, 0x0a);
  o += writeU64(LINE + o, <u64>entryExpires(entry));
  sha256(LINE, o, HASH);
  store<u64>(acc, load<u64>(acc) ^ load<u64>(HASH));
}
