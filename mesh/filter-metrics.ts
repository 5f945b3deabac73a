// Reads the filter's Envoy metrics (defined by assembly/metrics.ts) off the host, for the status line and the start
// sequence. The outcome counters' names are the usage-report contract's (OUTCOME_EDGES); tollgate_flush_ok and the
// key feed's gauges are the filter's own.
import { OUTCOME_EDGES, OUTCOMES } from '../contracts/usage-report.js';
import type { MetricSample } from '../host/index.js';

const DENIED = new Set(OUTCOMES.filter((o) => o !== 'allowed').map((o) => OUTCOME_EDGES[o].filterMetric as string));
/** Gauges the VM that syncs the key feed records: the revision of the key set served and the keys in it. */
export const FEED_REVISION_GAUGE = 'tollgate_keyfeed_revision';
export const FEED_KEYS_GAUGE = 'tollgate_keyfeed_keys';

export interface FilterCounts {
  allowed: number;
  denied: number;
  flushesOk: number;
  /** The key feed's revision and key count, once the filter has recorded them (absent: no key set yet). */
  feedRevision?: number;
  feedKeys?: number;
}

export function filterCounts(samples: readonly MetricSample[]): FilterCounts {
  const counts: FilterCounts = { allowed: 0, denied: 0, flushesOk: 0 };
  for (const s of samples) {
    if (s.type === 'gauge') {
      // A gauge the filter defined but never set reads 0: revision 0 means no snapshot has landed yet.
      if (s.name === FEED_REVISION_GAUGE && s.value > 0) counts.feedRevision = s.value;
      else if (s.name === FEED_KEYS_GAUGE && s.value > 0) counts.feedKeys = s.value;
      continue;
    }
    if (s.type !== 'counter') continue;
    if (s.name === OUTCOME_EDGES.allowed.filterMetric) counts.allowed += s.value;
    else if (DENIED.has(s.name)) counts.denied += s.value;
    else if (s.name === 'tollgate_flush_ok') counts.flushesOk += s.value;
  }
  if (counts.feedRevision !== undefined) counts.feedKeys ??= 0;
  return counts;
}
