// The billing export's reads (docs/usage-export.md), as SQL both backends run: the hourly billing rows of one period,
// grouped by the asked dimensions in their canonical order, after a keyset cursor, a page at a time. Text columns
// compare bytewise on both (SQLite BINARY, PostgreSQL COLLATE "C"), so pages come in the same order. Pure.
import type { ExportDimension, ExportGroupQuery, ExportGroupRow } from './repository.js';
import { STATUS_CLASSES } from './types.js';

export const BILLING_COLUMN: Record<ExportDimension, string> = { consumer: 'consumer_id', plan: 'plan_id', api: 'api_id', operation: 'operation_id' };
const STATUS_COLUMNS = STATUS_CLASSES.map((c) => `status_${c}`);
const byOutcome = (outcome: string, alias: string): string => `SUM(CASE WHEN outcome = '${outcome}' THEN count ELSE 0 END) AS ${alias}`;

/**
 * One page of grouped rows over `source` (a table or a subquery with usage_billing_hour's columns); `param(i)` writes
 * the i-th placeholder (1-based). Without dimensions the statement returns one row, empty or not: `n` says.
 */
export function billingGroupsSql(source: string, q: ExportGroupQuery, param: (i: number) => string): { text: string; values: (string | number)[] } {
  const cols = q.groupBy.map((d) => BILLING_COLUMN[d]);
  const values: (string | number)[] = [q.from, q.to];
  const where = [`start >= ${param(1)}`, `start < ${param(2)}`];
  if (q.after !== null && cols.length > 0) {
    const marks = q.after.map((k) => { values.push(k); return param(values.length); });
    where.push(`(${cols.join(', ')}) > (${marks.join(', ')})`);
  }
  values.push(q.limit);
  const sums = [
    'COUNT(*) AS n', byOutcome('allowed', 'requests'), 'SUM(units) AS units', byOutcome('rejected_quota', 'rejected_quota'),
    byOutcome('rejected_auth', 'rejected_auth'), byOutcome('rejected_forbidden', 'rejected_forbidden'), 'SUM(would_reject) AS would_reject',
    ...STATUS_COLUMNS.map((c) => `SUM(${c}) AS ${c}`),
  ];
  const grouped = cols.length > 0 ? ` GROUP BY ${cols.join(', ')} ORDER BY ${cols.join(', ')}` : '';
  return {
    text: `SELECT ${[...cols, ...sums].join(', ')} FROM ${source} WHERE ${where.join(' AND ')}${grouped} LIMIT ${param(values.length)}`,
    values,
  };
}

/** The statement's rows as the repository returns them (an empty aggregate without dimensions: none). */
export function billingGroupRows(q: ExportGroupQuery, rows: readonly Record<string, unknown>[]): ExportGroupRow[] {
  const out: ExportGroupRow[] = [];
  for (const r of rows) {
    if (Number(r.n ?? 0) === 0) continue;
    const num = (k: string): number => Number(r[k] ?? 0);
    out.push({
      keys: q.groupBy.map((d) => String(r[BILLING_COLUMN[d]])),
      requests: num('requests'), units: num('units'), rejectedQuota: num('rejected_quota'), rejectedAuth: num('rejected_auth'),
      rejectedForbidden: num('rejected_forbidden'), wouldReject: num('would_reject'),
      status: Object.fromEntries(STATUS_CLASSES.map((c) => [c, num(`status_${c}`)])) as ExportGroupRow['status'],
    });
  }
  return out;
}
