// The billing export's walk over the store: period after period (empty ones skipped with one indexed lookup), each
// read in keyset pages ordered by the dimensions, so memory stays one page whatever the range, and a cursor (the last
// row's period and keys) resumes exactly after that row. A pull-based generator: nothing is read before the HTTP
// stream asks for it (backpressure).
import type { ExportDimension, UsageRepository } from '../store/repository.js';
import { encodeCursor, isComplete, periodEnd, periodStart, type ExportCursor, type ExportGranularity, type ExportRecord } from './export.js';

/**
 * Groups per store read. Each read aggregates its period's hours from the cursor on, so fewer, larger reads cost less:
 * 20,000 groups in a month of 1.44 M hourly rows export in 2.9 s with 10,000 per read against 14.5 s with 1,000.
 */
export const EXPORT_PAGE_ROWS = 10_000;

export interface ExportWalk {
  from: number; to: number; granularity: ExportGranularity; groupBy: readonly ExportDimension[];
  /** Resume after this row (its period must lie in [from, to)). */
  after: ExportCursor | null;
  /** For `complete` (unix s). */
  now: number;
}

export async function* exportRecords(repo: UsageRepository, w: ExportWalk, pageRows = EXPORT_PAGE_ROWS): AsyncGenerator<ExportRecord[]> {
  const { granularity: g, groupBy } = w;
  let period = w.after?.period ?? w.from;
  let after: readonly string[] | null = w.after?.keys ?? null;
  // Without dimensions a period has one row: a cursor at it means the period is done.
  if (w.after !== null && groupBy.length === 0) { period = periodEnd(g, period); after = null; }
  while (period < w.to) {
    if (after === null) {
      const next = await repo.billingNextStart(period, w.to);
      if (next === null) return;
      period = periodStart(g, next);
    }
    const end = Math.min(periodEnd(g, period), w.to);
    const rows = await repo.billingGroups({ from: period, to: end, groupBy, after, limit: pageRows });
    const complete = isComplete(end, w.now);
    const start = period;
    if (rows.length > 0) {
      yield rows.map((group) => ({ start, end, group, complete, cursor: encodeCursor({ granularity: g, groupBy, period: start, keys: group.keys }) }));
    }
    if (groupBy.length === 0 || rows.length < pageRows) { period = end; after = null; } else after = rows[rows.length - 1]!.keys;
  }
}
