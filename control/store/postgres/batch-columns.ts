// A stored batch's rows as the column arrays one `INSERT … SELECT FROM unnest(…)` takes, so a batch costs one statement
// per table however many rows it has. Rows that would hit the same stored row are merged first (one statement may not
// update a row twice), with the result SQLite's row-by-row upserts give. Pure.
import type { FleetAdd, UsageRow } from '../repository.js';
import { STATUS_CLASSES } from '../types.js';

export interface UsageColumns {
  start: number[]; keyId: string[]; apiId: string[]; outcome: string[]; consumerId: string[]; count: number[];
  /** One array per status class, in STATUS_CLASSES order. */
  status: number[][];
}

export function usageColumns(rows: readonly UsageRow[]): UsageColumns {
  const merged = new Map<string, UsageRow>();
  for (const r of rows) {
    const id = `${r.start}\u0000${r.keyId}\u0000${r.apiId}\u0000${r.outcome}`;
    const m = merged.get(id);
    if (m === undefined) merged.set(id, { ...r, status: { ...r.status } });
    else {
      m.count += r.count;
      for (const c of STATUS_CLASSES) m.status[c] += r.status[c];
    }
  }
  const list = [...merged.values()];
  return {
    start: list.map((r) => r.start), keyId: list.map((r) => r.keyId), apiId: list.map((r) => r.apiId),
    outcome: list.map((r) => r.outcome), consumerId: list.map((r) => r.consumerId), count: list.map((r) => r.count),
    status: STATUS_CLASSES.map((c) => list.map((r) => r.status[c])),
  };
}

/** One fleet window row's identity (plan, consumer, window, reporter) as a string. */
export const fleetKey = (planId: string, consumerId: string, per: string, windowStart: number, reporter: string): string =>
  `${planId}\u0000${consumerId}\u0000${per}\u0000${windowStart}\u0000${reporter}`;

export interface FleetColumns { planId: string[]; consumerId: string[]; per: string[]; windowStart: number[]; reporter: string[]; count: number[]; cap: number[] }

/**
 * Additions to the same window by the same reporter (two keys of one subscription) are summed. Their caps are the
 * same (the plan's limit for the window); the smaller is kept should they ever differ.
 */
export function fleetColumns(adds: readonly FleetAdd[]): FleetColumns {
  const merged = new Map<string, FleetAdd>();
  for (const f of adds) {
    const id = fleetKey(f.planId, f.consumerId, f.per, f.windowStart, f.reporter);
    const m = merged.get(id);
    if (m === undefined) merged.set(id, { ...f });
    else {
      m.count += f.count;
      m.cap = Math.min(m.cap, f.cap);
    }
  }
  const list = [...merged.values()];
  return {
    planId: list.map((f) => f.planId), consumerId: list.map((f) => f.consumerId), per: list.map((f) => f.per),
    windowStart: list.map((f) => f.windowStart), reporter: list.map((f) => f.reporter), count: list.map((f) => f.count), cap: list.map((f) => f.cap),
  };
}

/** The columns without the rows whose keys are in `created`. */
export function withoutCreated(f: FleetColumns, created: ReadonlySet<string>): FleetColumns {
  const keep = f.planId.map((_, i) => !created.has(fleetKey(f.planId[i]!, f.consumerId[i]!, f.per[i]!, f.windowStart[i]!, f.reporter[i]!)));
  const pick = <T>(xs: T[]): T[] => xs.filter((_, i) => keep[i]);
  return {
    planId: pick(f.planId), consumerId: pick(f.consumerId), per: pick(f.per), windowStart: pick(f.windowStart),
    reporter: pick(f.reporter), count: pick(f.count), cap: pick(f.cap),
  };
}
