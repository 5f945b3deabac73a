// GET /v1/usage/top's read (docs/control.md "Top consumers"), as SQL both backends run: hourly usage rows summed per
// consumer, key, API, operation or plan, largest first (ties by id, bytewise on both: SQLite BINARY, PostgreSQL
// COLLATE "C"), at most `limit`. Keys come from usage_hour (keyed by key); the rest from the billing table
// usage_billing_hour (migration 016: per consumer, plan, API and operation). Pure.
import type { TopQuery, TopRow } from './repository.js';
import { OUTCOMES } from '../../contracts/usage-report.js';

/** What the `source` has to offer: the billing table's columns, or usage_hour's (which has keys, not plans or operations). */
export type TopSource = 'billing' | 'hour';

/** The source each dimension is read from. */
export const TOP_SOURCE: Record<TopQuery['by'], TopSource> = { consumer: 'billing', plan: 'billing', api: 'billing', operation: 'billing', key: 'hour' };

// Grouping columns (the first is the id) and the extra column each group carries: an operation's API (ids are only
// meaningful with their API: '' is "no operation" of each API), a key's consumer (one per key).
const GROUPS: Record<TopQuery['by'], { cols: string[]; extra?: { expr: string; alias: string } }> = {
  consumer: { cols: ['consumer_id'] },
  plan: { cols: ['plan_id'] },
  api: { cols: ['api_id'] },
  operation: { cols: ['operation_id', 'api_id'], extra: { expr: 'api_id', alias: 'api_id' } },
  key: { cols: ['key_id'], extra: { expr: 'MIN(consumer_id)', alias: 'consumer_id' } },
};

/**
 * The ranking over `source`: a table or subquery with `start` (hour), the dimension's columns, `outcome`, `count`,
 * `units` and `would_reject` (both never NULL: the caller's source fills in rows written before they existed).
 * `param(i)` writes the i-th placeholder (1-based); `collate` is appended to the id columns in ORDER BY.
 */
export function topSql(source: string, q: TopQuery, param: (i: number) => string, collate = ''): { text: string; values: (string | number)[] } {
  const g = GROUPS[q.by];
  const values: (string | number)[] = [q.from, q.to];
  const where = [`start >= ${param(1)}`, `start < ${param(2)}`];
  if (q.apiId !== undefined) { values.push(q.apiId); where.push(`api_id = ${param(values.length)}`); }
  if (q.outcome !== undefined) { values.push(q.outcome); where.push(`outcome = ${param(values.length)}`); }
  values.push(q.limit);
  const columns = [
    `${g.cols[0]} AS id`, ...(g.extra === undefined ? [] : [`${g.extra.expr} AS ${g.extra.alias}`]), 'SUM(count) AS requests',
    ...OUTCOMES.map((o) => `SUM(CASE WHEN outcome = '${o}' THEN count ELSE 0 END) AS ${o}`), 'SUM(units) AS units', 'SUM(would_reject) AS would_reject',
  ];
  return {
    text: `SELECT ${columns.join(', ')} FROM ${source} WHERE ${where.join(' AND ')} GROUP BY ${g.cols.join(', ')} HAVING SUM(count) > 0 `
      + `ORDER BY requests DESC, ${g.cols.map((c) => `${c}${collate}`).join(', ')} LIMIT ${param(values.length)}`,
    values,
  };
}

/** The statement's rows as the repository returns them (PostgreSQL's sums arrive as strings). */
export function topRows(q: TopQuery, rows: readonly Record<string, unknown>[]): TopRow[] {
  return rows.map((r) => {
    const num = (k: string): number => Number(r[k] ?? 0);
    return {
      id: String(r.id), requests: num('requests'), allowed: num('allowed'), rejectedQuota: num('rejected_quota'), rejectedAuth: num('rejected_auth'),
      rejectedForbidden: num('rejected_forbidden'), units: num('units'), wouldReject: num('would_reject'),
      ...(q.by === 'operation' ? { apiId: String(r.api_id) } : {}),
      ...(q.by === 'key' ? { consumerId: String(r.consumer_id) } : {}),
    };
  });
}
