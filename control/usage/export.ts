// The billing export's rules (docs/usage-export.md, the contract): UTC calendar periods, the canonical grouping, the
// resumable cursor, the columns and their CSV (RFC 4180) and NDJSON forms, and when a period is final. Pure.
import type { ExportDimension, ExportGroupRow } from '../store/repository.js';
import { MAX_REPORT_AGE_S } from './report-rules.js';

export type ExportGranularity = 'hour' | 'day' | 'month';
export type ExportFormat = 'csv' | 'ndjson';
/** Every dimension, in the one order rows are grouped, sorted and printed in whatever order they were asked. */
export const DIMENSIONS: readonly ExportDimension[] = ['consumer', 'plan', 'api', 'operation'];
export const DIMENSION_COLUMN: Record<ExportDimension, string> = { consumer: 'consumer_id', plan: 'plan_id', api: 'api_id', operation: 'operation_id' };
/** The counting columns, after the period and the dimensions. */
export const COUNT_COLUMNS = [
  'requests', 'units', 'rejected_quota', 'rejected_auth', 'rejected_forbidden', 'would_reject',
  'status_1xx', 'status_2xx', 'status_3xx', 'status_4xx', 'status_5xx',
] as const;
/** Version of the cursor's encoding; a cursor of another version is refused (400), never misread. */
export const CURSOR_VERSION = 1;

const HOUR_S = 3600;
const DAY_S = 86_400;

/** The start of the period holding `t` (unix s), UTC. */
export function periodStart(g: ExportGranularity, t: number): number {
  if (g === 'hour') return t - mod(t, HOUR_S);
  if (g === 'day') return t - mod(t, DAY_S);
  const d = new Date(t * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
}

/** The end (exclusive) of the period starting at `start`: the next period's start. */
export function periodEnd(g: ExportGranularity, start: number): number {
  if (g === 'hour') return start + HOUR_S;
  if (g === 'day') return start + DAY_S;
  const d = new Date(start * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
}

export const isAligned = (g: ExportGranularity, t: number): boolean => periodStart(g, t) === t;

/**
 * A period is final once no report can add to it any more: the service refuses entries older than
 * MAX_REPORT_AGE_S (docs/usage-report.md), so from its end plus that age on its totals never change.
 */
export const isComplete = (end: number, now: number): boolean => now >= end + MAX_REPORT_AGE_S;

/** `groupBy` as asked ("plan,consumer", repeats refused) → the dimensions in canonical order, or what is wrong. */
export function parseGroupBy(text: string | undefined): ExportDimension[] | string {
  if (text === undefined || text.trim() === '') return [];
  const asked = new Set<string>();
  for (const part of text.split(',')) {
    const d = part.trim();
    if (!(DIMENSIONS as readonly string[]).includes(d)) return `groupBy: unknown dimension '${d}' (one or more of ${DIMENSIONS.join(', ')})`;
    if (asked.has(d)) return `groupBy: '${d}' is named twice`;
    asked.add(d);
  }
  return DIMENSIONS.filter((d) => asked.has(d));
}

/** Where a page ends: the last row's period and group keys (in the canonical dimension order). */
export interface ExportCursor { granularity: ExportGranularity; groupBy: readonly ExportDimension[]; period: number; keys: readonly string[] }

/** Opaque to clients: base64url of a versioned JSON of the last row's sort key and the query shape it belongs to. */
export function encodeCursor(c: ExportCursor): string {
  return Buffer.from(JSON.stringify({ v: CURSOR_VERSION, g: c.granularity, b: c.groupBy.join(','), p: c.period, k: c.keys })).toString('base64url');
}

/** The cursor, or what is wrong with it (a cursor from another granularity or grouping is refused, not reinterpreted). */
export function decodeCursor(text: string, expect: { granularity: ExportGranularity; groupBy: readonly ExportDimension[] }): ExportCursor | string {
  let raw: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new Error('not base64url');
    raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return 'cursor: not a cursor of this export';
  }
  const o = raw as { v?: unknown; g?: unknown; b?: unknown; p?: unknown; k?: unknown };
  if (typeof o !== 'object' || o === null || o.v !== CURSOR_VERSION) return 'cursor: not a cursor of this export (version)';
  if (typeof o.g !== 'string' || typeof o.b !== 'string') return 'cursor: not a cursor of this export (shape)';
  if (o.g !== expect.granularity || o.b !== expect.groupBy.join(',')) return 'cursor: from an export with another granularity or groupBy';
  if (typeof o.p !== 'number' || !Number.isSafeInteger(o.p) || !isAligned(expect.granularity, o.p)) return 'cursor: not a cursor of this export (period)';
  if (!Array.isArray(o.k) || o.k.length !== expect.groupBy.length || !o.k.every((k) => typeof k === 'string')) return 'cursor: not a cursor of this export (keys)';
  return { granularity: expect.granularity, groupBy: expect.groupBy, period: o.p, keys: o.k as string[] };
}

/** One exported row: a period, its group's keys (canonical order) and totals, finality, and the cursor after it. */
export interface ExportRecord { start: number; end: number; group: ExportGroupRow; complete: boolean; cursor: string }

export const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

/** The header, in order: period_start, period_end, the dimensions' columns, the counts, complete, cursor. */
export function exportColumns(groupBy: readonly ExportDimension[]): string[] {
  return ['period_start', 'period_end', ...groupBy.map((d) => DIMENSION_COLUMN[d]), ...COUNT_COLUMNS, 'complete', 'cursor'];
}

function values(r: ExportRecord): (string | number | boolean)[] {
  const g = r.group;
  return [
    iso(r.start), iso(r.end), ...g.keys, g.requests, g.units, g.rejectedQuota, g.rejectedAuth, g.rejectedForbidden, g.wouldReject,
    g.status['1xx'], g.status['2xx'], g.status['3xx'], g.status['4xx'], g.status['5xx'], r.complete, r.cursor,
  ];
}

/** RFC 4180: a field with a comma, quote, CR or LF is quoted, its quotes doubled. */
export function csvField(v: string | number | boolean): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV record, CRLF-terminated (RFC 4180). */
export const csvLine = (fields: readonly (string | number | boolean)[]): string => `${fields.map(csvField).join(',')}\r\n`;

export const csvRecord = (r: ExportRecord): string => csvLine(values(r));

/** One NDJSON line: an object with exactly the CSV's columns. */
export function ndjsonRecord(groupBy: readonly ExportDimension[], r: ExportRecord): string {
  const cols = exportColumns(groupBy);
  const vals = values(r);
  const o: Record<string, string | number | boolean> = {};
  for (let i = 0; i < cols.length; i++) o[cols[i]!] = vals[i]!;
  return `${JSON.stringify(o)}\n`;
}

/** The NDJSON trailer (the one line without period_start): rows in this response, and the cursor of the next page. */
export const ndjsonTrailer = (rows: number, next: string | null): string => `${JSON.stringify({ end: true, rows, next })}\n`;

/** RFC 4180's lines back into fields (a quoted field may hold commas, quotes and line breaks). For clients and tests. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (ch === '"') { quoted = false; i++; continue; }
      field += ch; i++; continue;
    }
    if (ch === '"') { quoted = true; i++; continue; }
    if (ch === ',') { row.push(field); field = ''; i++; continue; }
    if (ch === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    field += ch; i++;
  }
  if (field !== '' || row.length > 0) { row.push(field); rows.push(row); }
  return rows;
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}
