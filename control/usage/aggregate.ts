// Collapses a report's entries into the rows the store adds to, so a batch costs one upsert per distinct bucket.
import { STATUS_CLASSES, type Outcome, type StatusCounts, type UsageEntry } from '../store/types.js';
import { windowStart } from './windows.js';

/** `wouldReject`: allowed requests a shadow limit would have rejected. */
export interface Bucket { start: number; keyId: string; apiId: string; outcome: Outcome; count: number; units: number; wouldReject: number; status: StatusCounts }

/**
 * The units an entry's requests spent against quota: its `units`, or one per request when it has none (a filter
 * without operation costs). Only allowed requests spend any: a rejected request consumed no quota in the filter.
 */
export function unitsOf(e: UsageEntry): number {
  return e.outcome === 'allowed' ? e.units ?? e.count : 0;
}

export function zeroStatus(): StatusCounts {
  return { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
}

export function bucketsBy(entries: UsageEntry[], size: 'minute' | 'hour' | 'day'): Bucket[] {
  const byKey = new Map<string, Bucket>();
  for (const e of entries) {
    const start = windowStart(size, e.minute);
    const id = `${start}\u0000${e.keyId}\u0000${e.apiId}\u0000${e.outcome}`;
    let b = byKey.get(id);
    if (b === undefined) {
      b = { start, keyId: e.keyId, apiId: e.apiId, outcome: e.outcome, count: 0, units: 0, wouldReject: 0, status: zeroStatus() };
      byKey.set(id, b);
    }
    b.count += e.count;
    b.units += unitsOf(e);
    b.wouldReject += e.wouldReject ?? 0;
    for (const c of STATUS_CLASSES) b.status[c] += e.status?.[c] ?? 0;
  }
  return [...byKey.values()];
}

/** A minute row with what billing groups by besides (the entry's operation, the key's plan when stored). */
export type MinuteRow = Bucket & { consumerId: string; operationId: string; planId: string };

/**
 * One row per entry, at its minute (a report holds one entry per minute, key, API and outcome; a store that gets two
 * rows for one bucket adds them up all the same). One pass, no grouping: the cheap path for the largest table.
 */
export function minuteRows(entries: readonly UsageEntry[], consumerOf: (keyId: string) => string, planOf: (keyId: string) => string = () => ''): MinuteRow[] {
  const rows = new Array<MinuteRow>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const s = e.status;
    rows[i] = {
      start: e.minute - (e.minute % 60), keyId: e.keyId, apiId: e.apiId, outcome: e.outcome, count: e.count, units: unitsOf(e), wouldReject: e.wouldReject ?? 0, consumerId: consumerOf(e.keyId),
      operationId: e.operationId ?? '', planId: planOf(e.keyId),
      status: s === undefined ? zeroStatus() : { '1xx': s['1xx'] ?? 0, '2xx': s['2xx'] ?? 0, '3xx': s['3xx'] ?? 0, '4xx': s['4xx'] ?? 0, '5xx': s['5xx'] ?? 0 },
    };
  }
  return rows;
}
