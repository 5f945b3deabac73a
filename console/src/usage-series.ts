// Pure: a GET /v1/usage reply → the chart's columns (every bucket of the range, gaps as zero: the service lists only
// buckets with traffic) and the totals the summary table shows. No DOM, so it is easy to reason about and test.
import { STATUS_CLASSES, type Counts, type StatusClass, type UsageView } from './types';

export type Granularity = 'minute' | 'hour' | 'day';
export const BUCKET_SECONDS: Record<Granularity, number> = { minute: 60, hour: 3600, day: 86_400 };

export interface SeriesDef { id: string; label: string; color: string; total: (v: UsageView) => number }

type OutcomeField = Exclude<keyof Counts, 'units'>;
const outcome = (id: OutcomeField, label: string, color: string): SeriesDef => ({ id, label, color, total: (v) => v.totals[id] ?? 0 });
const status = (id: StatusClass, color: string): SeriesDef => ({ id, label: `upstream ${id}`, color, total: (v) => v.upstreamStatus[id] ?? 0 });

/** Requests by outcome: allowed, and denied by reason (plus what shadow limits would have denied). */
export const OUTCOME_SERIES: SeriesDef[] = [
  outcome('allowed', 'allowed', '#1b7f3b'),
  outcome('rejectedQuota', 'denied: quota (429)', '#c2410c'),
  outcome('rejectedAuth', 'denied: no or bad key (401)', '#b91c1c'),
  outcome('rejectedForbidden', 'denied: not in plan (403)', '#7c3aed'),
  outcome('wouldReject', 'shadow: would deny', '#a16207'),
];
/** Upstream response status classes of the allowed requests (colour-blind-safe-ish, distinct by lightness too). */
export const STATUS_SERIES: SeriesDef[] = [
  status('1xx', '#64748b'), status('2xx', '#15803d'), status('3xx', '#0369a1'), status('4xx', '#d97706'), status('5xx', '#be123c'),
];

export interface ChartColumns {
  /** Bucket starts, unix seconds (uPlot's x axis). */
  x: number[];
  outcomes: number[][];
  status: number[][];
}

const MAX_BUCKETS = 10_000;

/** Buckets from `from` (rounded down to the granularity) to `to`, each series zero where the reply has no point. */
export function chartColumns(view: UsageView, from: number, to: number, granularity: Granularity): ChartColumns {
  const step = BUCKET_SECONDS[granularity];
  const first = Math.floor(from / step) * step;
  const count = Math.max(0, Math.min(MAX_BUCKETS, Math.ceil((to - first) / step)));
  const x = Array.from({ length: count }, (_, i) => first + i * step);
  const index = new Map(x.map((t, i) => [t, i]));
  const outcomes = OUTCOME_SERIES.map(() => new Array<number>(count).fill(0));
  const status = STATUS_SERIES.map(() => new Array<number>(count).fill(0));
  for (const p of view.series) {
    const i = index.get(Math.floor(Date.parse(p.start) / 1000));
    if (i === undefined) continue;
    OUTCOME_SERIES.forEach((s, n) => { outcomes[n]![i] = Number(p[s.id as OutcomeField] ?? 0); });
    STATUS_SERIES.forEach((s, n) => { status[n]![i] = Number(p.upstreamStatus?.[s.id as StatusClass] ?? 0); });
  }
  return { x, outcomes, status };
}

export function totalRequests(view: UsageView): number {
  return view.totals.allowed + view.totals.rejectedQuota + view.totals.rejectedAuth + view.totals.rejectedForbidden;
}

export const EMPTY_USAGE: UsageView = {
  totals: { allowed: 0, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0, units: 0, wouldReject: 0 },
  upstreamStatus: Object.fromEntries(STATUS_CLASSES.map((c) => [c, 0])) as UsageView['upstreamStatus'],
  series: [],
};

export const RANGES: { id: string; label: string; seconds: number; granularity: Granularity }[] = [
  { id: '15m', label: 'last 15 minutes', seconds: 900, granularity: 'minute' },
  { id: '1h', label: 'last hour', seconds: 3600, granularity: 'minute' },
  { id: '6h', label: 'last 6 hours', seconds: 6 * 3600, granularity: 'minute' },
  { id: '24h', label: 'last 24 hours', seconds: 86_400, granularity: 'hour' },
  { id: '7d', label: 'last 7 days', seconds: 7 * 86_400, granularity: 'hour' },
  { id: '30d', label: 'last 30 days', seconds: 30 * 86_400, granularity: 'day' },
];
