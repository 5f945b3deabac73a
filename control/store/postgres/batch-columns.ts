// A stored batch's rows as the column arrays one `INSERT … SELECT FROM unnest(…)` takes, so a batch costs one statement
// however many rows it has. Fleet additions that would hit the same stored row are merged first (one statement may not
// update a row twice), with the result SQLite's row-by-row upserts give. Pure.
import type { FleetAdd, UsageRow } from '../repository.js';
import { STATUS_CLASSES } from '../types.js';

export interface UsageColumns {
  start: number[]; keyId: string[]; apiId: string[]; outcome: string[]; consumerId: string[]; count: number[]; units: number[]; wouldReject: number[];
  /** The billing dimensions of minute rows ('' where a row has none). */
  operationId: string[]; planId: string[];
  /** One array per status class, in STATUS_CLASSES order. */
  status: number[][];
}

/** Minute rows are appended, not upserted, so rows for the same bucket may stay separate (reads sum them). */
export function usageColumns(rows: readonly UsageRow[]): UsageColumns {
  const n = rows.length;
  const c: UsageColumns = {
    start: new Array<number>(n), keyId: new Array<string>(n), apiId: new Array<string>(n), outcome: new Array<string>(n),
    consumerId: new Array<string>(n), count: new Array<number>(n), units: new Array<number>(n), wouldReject: new Array<number>(n),
    operationId: new Array<string>(n), planId: new Array<string>(n), status: STATUS_CLASSES.map(() => new Array<number>(n)),
  };
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    c.start[i] = r.start; c.keyId[i] = r.keyId; c.apiId[i] = r.apiId; c.outcome[i] = r.outcome; c.consumerId[i] = r.consumerId; c.count[i] = r.count; c.units[i] = r.units; c.wouldReject[i] = r.wouldReject ?? 0;
    c.operationId[i] = r.operationId ?? ''; c.planId[i] = r.planId ?? '';
    for (let k = 0; k < STATUS_CLASSES.length; k++) c.status[k]![i] = r.status[STATUS_CLASSES[k]!];
  }
  return c;
}

/** One fleet window row's identity (plan, consumer, window, reporter, scope) as a string. */
export const fleetKey = (planId: string, consumerId: string, per: string, windowStart: number, reporter: string, scope = ''): string =>
  `${planId}\u0000${consumerId}\u0000${per}\u0000${windowStart}\u0000${reporter}${scope === '' ? '' : `\u0000${scope}`}`;

export interface FleetColumns {
  planId: string[]; consumerId: string[]; per: string[]; windowStart: number[]; reporter: string[]; count: number[]; cap: number[];
  /** '' for the subscription's unscoped windows. */
  scope: string[];
}

/**
 * Additions to the same window by the same reporter (two keys of one subscription) are summed. Their caps are the
 * same (the plan's limit for the window); the smaller is kept should they ever differ.
 */
export function fleetColumns(adds: readonly FleetAdd[]): FleetColumns {
  const merged = new Map<string, FleetAdd>();
  for (const f of adds) {
    const id = fleetKey(f.planId, f.consumerId, f.per, f.windowStart, f.reporter, f.scope ?? '');
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
    scope: list.map((f) => f.scope ?? ''),
  };
}

/**
 * An array parameter as PostgreSQL's array literal, built in one pass: node-postgres would escape every element with
 * two regular expressions, a measurable share of a 2000-row batch's CPU. Strings are always quoted (an empty string or
 * "NULL" stays a string); quotes and backslashes are escaped.
 */
export function pgArray(values: readonly (string | number)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i]!;
    if (typeof v === 'number') out += String(v);
    else if (v.indexOf('"') < 0 && v.indexOf('\\') < 0) out += `"${v}"`;
    else out += `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  }
  return out + '}';
}

/**
 * Equal-length columns as one two-dimensional array literal (`{{…},{…}}`), one column per row of the array: a batch's
 * log (store/postgres/usage.ts) is four of these in its usage_batches row. NULL when there are no rows (PostgreSQL
 * has no empty two-dimensional array).
 */
export function pgArray2(columns: readonly (readonly (string | number)[])[]): string | null {
  if (columns.length === 0 || columns[0]!.length === 0) return null;
  return `{${columns.map(pgArray).join(',')}}`;
}

/**
 * The log columns of a batch's minute rows: numbers (start, count, then STATUS_CLASSES, then units and
 * wouldReject — last, so logs written before migrations 009/010 simply lack those rows) and texts (key, API, outcome, consumer,
 * then operation and plan — last, so logs written before migration 016 lack them: the fold reads operation '' and the
 * key's plan then).
 */
export function minuteLog(rows: readonly UsageRow[]): { numbers: string | null; texts: string | null } {
  const c = usageColumns(rows);
  return { numbers: pgArray2([c.start, c.count, ...c.status, c.units, c.wouldReject]), texts: pgArray2([c.keyId, c.apiId, c.outcome, c.consumerId, c.operationId, c.planId]) };
}

/**
 * The log columns of a batch's fleet additions: numbers (window start, count in units, cap) and texts (plan, consumer,
 * per, reporter, then scope — last, so logs written before migration 011 lack it and read as unscoped).
 */
export function fleetLog(adds: readonly FleetAdd[]): { numbers: string | null; texts: string | null } {
  const f = fleetColumns(adds);
  return { numbers: pgArray2([f.windowStart, f.count, f.cap]), texts: pgArray2([f.planId, f.consumerId, f.per, f.reporter, f.scope]) };
}
