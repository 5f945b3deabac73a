// The request path's side of the key feed: one shared-data read of the bucket a digest falls in. The meta entry
// (generation, bucket bits) is cached per VM and re-read on the VM's tick, or at once when a bucket's generation
// word does not match the cached one (a new snapshot was flipped in, or the old generation was emptied).

import { proxy_get_shared_data, RESULT_OK } from "../abi/imports";
import { clearRet, RET_CAS, RET_LEN, RET_PTR } from "../abi/memory";
import {
  bucketKey, bucketOf, entryConsumer, entryConsumerLen, entryExpires, entryKeyId, entryKeyIdLen, entryPlan,
  entryPlanLen, findEntry, FIXED_KEY_LEN, MAX_BITS, MAX_BUCKET_KEY, META_BITS, META_GEN, META_KEY, META_MAGIC, META_SIZE,
} from "./layout";

export const FEED_FOUND = 0;
export const FEED_ABSENT = 1;
/** The process holds no key set yet (no snapshot completed since Envoy started). */
export const FEED_NO_SET = 2;

const KEY = memory.data(<i32>MAX_BUCKET_KEY);

let metaLoaded = false;
let gen: u32 = 0;
let bits: u32 = 0;

/** Where the entry found by the last lookupFeed is (the host's copy, valid until the callback returns). */
export let foundEntry: usize = 0;

/** Forget the cached meta: the next lookup reads it again (called on every tick). */
export function invalidateMeta(): void { metaLoaded = false; }

function loadMeta(): void {
  metaLoaded = true;
  gen = 0;
  clearRet();
  if (proxy_get_shared_data(META_KEY, FIXED_KEY_LEN, RET_PTR, RET_LEN, RET_CAS) != RESULT_OK) return;
  const p = <usize>load<u32>(RET_PTR), n = <usize>load<u32>(RET_LEN);
  if (n < META_SIZE || load<u32>(p) != META_MAGIC) return;
  // Bits beyond MAX_BITS are no meta of ours (bucket keys are sized for MAX_BITS): no set.
  if (<u32>load<u8>(p, META_BITS) > MAX_BITS) return;
  gen = load<u32>(p, META_GEN);
  bits = <u32>load<u8>(p, META_BITS);
}

/** Whether this process holds a key set (reads the meta only when not cached). */
export function feedHasSet(): bool {
  if (!metaLoaded) loadMeta();
  return gen != 0;
}

/** The generation of the key set this VM serves (0: none yet); credit balances are picked by it (quota/credit.ts). */
export function feedGeneration(): u32 {
  if (!metaLoaded) loadMeta();
  return gen;
}

/** Looks the 32-byte digest up in the process's key set; FEED_FOUND sets foundEntry. */
export function lookupFeed(digest: usize): i32 {
  if (!metaLoaded) loadMeta();
  for (let attempt = 0; attempt < 2; attempt++) {
    if (gen == 0) return FEED_NO_SET;
    const kl = bucketKey(KEY, gen, bucketOf(digest, bits));
    clearRet();
    if (proxy_get_shared_data(KEY, kl, RET_PTR, RET_LEN, RET_CAS) != RESULT_OK) return FEED_ABSENT;
    const p = <usize>load<u32>(RET_PTR), n = <usize>load<u32>(RET_LEN);
    if (n >= 4 && load<u32>(p) == gen) {
      const o = findEntry(p, n, digest);
      if (o < 0) return FEED_ABSENT;
      foundEntry = p + <usize>o;
      return FEED_FOUND;
    }
    // Another generation's bucket (or an emptied one): the set was replaced since the meta was read.
    const before = gen;
    loadMeta();
    if (gen == before) return FEED_ABSENT;
  }
  return FEED_ABSENT;
}

// Views of the found entry.
@inline export function foundKeyId(): usize { return entryKeyId(foundEntry); }
@inline export function foundKeyIdLen(): usize { return entryKeyIdLen(foundEntry); }
@inline export function foundConsumer(): usize { return entryConsumer(foundEntry); }
@inline export function foundConsumerLen(): usize { return entryConsumerLen(foundEntry); }
@inline export function foundPlan(): usize { return entryPlan(foundEntry); }
@inline export function foundPlanLen(): usize { return entryPlanLen(foundEntry); }
@inline export function foundExpires(): u32 { return entryExpires(foundEntry); }
