// The subscription a quota belongs to, (plan, consumer), and the name of its shared-data entry: quota follows the
// subscription across all its keys and rotations, so a rotated key cannot bring a fresh quota with it.
// Entry key: "tg:q:<planId>/<consumerId>". Both ids are 1-64 chars of [A-Za-z0-9._:-], so "/" separates them
// unambiguously. Pure: no host calls.

import { copyShort } from "../bytes";
import { isId } from "../config/validate";

/** Longest entry key: "tg:q:" + 64 + "/" + 64. */
export const SUBSCRIPTION_KEY_MAX: usize = 5 + 64 + 1 + 64;

@inline function writePrefix(out: usize): void {
  store<u32>(out, 0x713a6774); // "tg:q"
  store<u8>(out, 0x3a, 4);     // ":"
}

/** Writes "tg:q:<plan>/<consumer>" at `out` (SUBSCRIPTION_KEY_MAX bytes); returns its length, 0 for an id over 64 bytes or empty. */
@inline export function subscriptionKey(out: usize, plan: usize, planLen: usize, consumer: usize, consumerLen: usize): usize {
  if (planLen == 0 || planLen > 64 || consumerLen == 0 || consumerLen > 64) return 0;
  writePrefix(out);
  copyShort(out + 5, plan, planLen);
  store<u8>(out + 5 + planLen, 0x2f);
  copyShort(out + 6 + planLen, consumer, consumerLen);
  return 6 + planLen + consumerLen;
}

/** Position of the "/" in a valid "<planId>/<consumerId>", or -1 when either part is not an id. */
export function subscriptionSplit(p: usize, n: usize): isize {
  if (n < 3 || n > 129) return -1;
  for (let i: usize = 0; i < n; i++) {
    if (load<u8>(p + i) != 0x2f) continue;
    return isId(p, i) && isId(p + i + 1, n - i - 1) ? <isize>i : -1;
  }
  return -1;
}

/** Writes the entry key of a subscription given as "<planId>/<consumerId>"; returns 0 when it is not valid. */
export function subscriptionKeyOf(out: usize, sub: usize, subLen: usize): usize {
  const slash = subscriptionSplit(sub, subLen);
  if (slash < 0) return 0;
  const s = <usize>slash;
  return subscriptionKey(out, sub, s, sub + s + 1, subLen - s - 1);
}
