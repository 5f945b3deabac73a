// Usage query rows → the REST summary: totals, upstream status classes and a series point per bucket.
import type { UsageQueryRow } from '../store/repository.js';
import { STATUS_CLASSES, type UsageCounts, type UsageSeriesPoint, type UsageSummary } from '../store/types.js';
import { zeroStatus } from './aggregate.js';

const OUTCOME_FIELD: Record<string, keyof UsageCounts> = {
  allowed: 'allowed', rejected_quota: 'rejectedQuota', rejected_auth: 'rejectedAuth', rejected_forbidden: 'rejectedForbidden',
};

export function summarize(rows: readonly UsageQueryRow[]): UsageSummary {
  const totals: UsageCounts = { allowed: 0, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0 };
  const upstreamStatus = zeroStatus();
  const series = new Map<number, UsageSeriesPoint>();
  for (const r of rows) {
    let point = series.get(r.start);
    if (point === undefined) {
      point = { start: r.start, allowed: 0, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0, upstreamStatus: zeroStatus() };
      series.set(r.start, point);
    }
    for (const c of STATUS_CLASSES) {
      point.upstreamStatus[c] += r.status[c];
      upstreamStatus[c] += r.status[c];
    }
    const field = OUTCOME_FIELD[r.outcome];
    if (field === undefined) continue;
    point[field] += r.count;
    totals[field] += r.count;
  }
  return { totals, upstreamStatus, series: [...series.values()] };
}
