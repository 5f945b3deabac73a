// Reads the filter's Envoy counters (defined by assembly/metrics.ts) off the host, for the status line. Names are the
// filter's public metric names (Prometheus: tollgate_allowed, tollgate_denied_*, tollgate_flush_ok).
import type { MetricSample } from '../host/index.js';

export interface FilterCounts {
  allowed: number;
  denied: number;
  flushesOk: number;
}

export function filterCounts(samples: readonly MetricSample[]): FilterCounts {
  const counts: FilterCounts = { allowed: 0, denied: 0, flushesOk: 0 };
  for (const s of samples) {
    if (s.type !== 'counter') continue;
    if (s.name === 'tollgate_allowed') counts.allowed += s.value;
    else if (s.name.startsWith('tollgate_denied_')) counts.denied += s.value;
    else if (s.name === 'tollgate_flush_ok') counts.flushesOk += s.value;
  }
  return counts;
}
