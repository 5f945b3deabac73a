// Envoy's header map edits as the ABI exposes them (add and replace keep pseudo-headers ahead of regular headers).
import type { HeaderPairs } from './pairs.js';

/** Envoy's addCopy: appended, except pseudo-headers, which Envoy keeps ahead of all regular headers. */
export function addHeader(pairs: HeaderPairs, key: string, value: string): void {
  if (!key.startsWith(':')) {
    pairs.push([key, value]);
    return;
  }
  const firstRegular = pairs.findIndex(([k]) => !k.startsWith(':'));
  pairs.splice(firstRegular < 0 ? pairs.length : firstRegular, 0, [key, value]);
}

/** Envoy's setCopy (current behaviour): every occurrence is removed, then the header is added once. */
export function replaceHeader(pairs: HeaderPairs, key: string, value: string): void {
  const kept = pairs.filter(([k]) => k !== key);
  pairs.splice(0, pairs.length, ...kept);
  addHeader(pairs, key, value);
}
