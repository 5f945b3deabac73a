// Reads the filter's Envoy counters (defined by assembly/metrics.ts) off the host, for the status line. The outcome
// counters' names are the usage-report contract's (OUTCOME_EDGES); tollgate_flush_ok is the filter's own.
import { OUTCOME_EDGES, OUTCOMES } from '../contracts/usage-report.js';
import type { MetricSample } from '../host/index.js';

const DENIED = new Set(OUTCOMES.filter((o) => o !== 'allowed').map((o) => OUTCOME_EDGES[o].filterMetric as string));

export interface FilterCounts {
  allowed: number;
  denied: number;
  flushesOk: number;
}

export function filterCounts(samples: readonly MetricSample[]): FilterCounts {
  const counts: FilterCounts = { allowed: 0, denied: 0, flushesOk: 0 };
  for (const s of samples) {
    if (s.type !== 'counter') continue;
    if (s.name === OUTCOME_EDGES.allowed.filterMetric) counts.allowed += s.value;
    else if (DENIED.has(s.name)) counts.denied += s.value;
    else if (s.name === 'tollgate_flush_ok') counts.flushesOk += s.value;
  }
  return counts;
}
