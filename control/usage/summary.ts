// Usage query rows → the REST summary: totals, upstream status classes and a series point per bucket. `units` is what
// the allowed requests spent against quota (operation costs), so it comes from the allowed rows only.
import type { UsageQueryRow } from '../store/repository.js';
import { OUTCOME_EDGES, OUTCOMES, type Outcome } from '../../contracts/usage-report.js';
import { STATUS_CLASSES, type UsageCounts, type UsageSeriesPoint, type UsageSummary } from '../store/types.js';
import { zeroStatus } from './aggregate.js';

const zeroCounts = (): UsageCounts => ({ ...Object.fromEntries(OUTCOMES.map((o) => [OUTCOME_EDGES[o].rest, 0])), units: 0, wouldReject: 0 }) as UsageCounts;
const isOutcome = (s: string): s is Outcome => (OUTCOMES as readonly string[]).includes(s);

export function summarize(rows: readonly UsageQueryRow[]): UsageSummary {
  const totals = zeroCounts();
  const upstreamStatus = zeroStatus();
  const series = new Map<number, UsageSeriesPoint>();
  for (const r of rows) {
    let point = series.get(r.start);
    if (point === undefined) {
      point = { start: r.start, ...zeroCounts(), upstreamStatus: zeroStatus() };
      series.set(r.start, point);
    }
    for (const c of STATUS_CLASSES) {
      point.upstreamStatus[c] += r.status[c];
      upstreamStatus[c] += r.status[c];
    }
    if (!isOutcome(r.outcome)) continue;
    const field = OUTCOME_EDGES[r.outcome].rest;
    point[field] += r.count;
    totals[field] += r.count;
    if (r.outcome === 'allowed') {
      point.units += r.units;
      totals.units += r.units;
      point.wouldReject += r.wouldReject ?? 0;
      totals.wouldReject += r.wouldReject ?? 0;
    }
  }
  return { totals, upstreamStatus, series: [...series.values()] };
}
