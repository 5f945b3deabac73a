// Collapses a report's entries into the rows the store adds to, so a batch costs one upsert per distinct bucket.
import type { Outcome, UsageEntry } from '../store/types.js';
import { windowStart, type FleetPer } from './windows.js';

export interface Bucket { start: number; keyId: string; apiId: string; outcome: Outcome; count: number }
export interface FleetIncrement { keyId: string; per: FleetPer; windowStart: number; count: number }

export function bucketsBy(entries: UsageEntry[], size: 'minute' | 'hour' | 'day'): Bucket[] {
  const byKey = new Map<string, Bucket>();
  for (const e of entries) {
    const start = windowStart(size, e.minute);
    const id = `${start}\u0000${e.keyId}\u0000${e.apiId}\u0000${e.outcome}`;
    const b = byKey.get(id);
    if (b === undefined) byKey.set(id, { start, keyId: e.keyId, apiId: e.apiId, outcome: e.outcome, count: e.count });
    else b.count += e.count;
  }
  return [...byKey.values()];
}

/**
 * Allowed requests per key and window, for the windows of each key's plan: what this reporter adds to the fleet's
 * count. Rejected requests never consumed quota in the filter, so they are not shared.
 */
export function fleetIncrements(entries: UsageEntry[], persOfKey: (keyId: string) => readonly FleetPer[]): FleetIncrement[] {
  const byKey = new Map<string, FleetIncrement>();
  for (const e of entries) {
    if (e.outcome !== 'allowed' || e.keyId === '') continue;
    for (const per of persOfKey(e.keyId)) {
      const start = windowStart(per, e.minute);
      const id = `${e.keyId}\u0000${per}\u0000${start}`;
      const inc = byKey.get(id);
      if (inc === undefined) byKey.set(id, { keyId: e.keyId, per, windowStart: start, count: e.count });
      else inc.count += e.count;
    }
  }
  return [...byKey.values()];
}
