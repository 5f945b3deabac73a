// Process-wide `wasmcustom.*` stats. Each VM maps its own metric ids (counter 4, 8, …; gauge 5, 9, …; histogram 6,
// 10, …) onto these shared stats, so a counter incremented on every worker adds up in one place.
import type { MetricSample } from '../contract.js';

export type MetricKind = 'counter' | 'gauge' | 'histogram';
export const METRIC_KINDS: MetricKind[] = ['counter', 'gauge', 'histogram'];

export interface Stat {
  name: string;
  kind: MetricKind;
  value: bigint;
  count: number;
}

export class MetricRegistry {
  private readonly stats = new Map<string, Stat>();

  stat(kind: MetricKind, name: string): Stat {
    const key = `wasmcustom.${name}`;
    let s = this.stats.get(key);
    if (s === undefined) {
      s = { name, kind, value: 0n, count: 0 };
      this.stats.set(key, s);
    }
    return s;
  }

  samples(): MetricSample[] {
    return [...this.stats.values()].map((s) => ({
      name: s.name,
      type: s.kind,
      value: Number(s.value),
      ...(s.kind === 'histogram' ? { count: s.count } : {}),
    }));
  }
}

/**
 * Envoy's Prometheus name for a `wasmcustom.` stat (PrometheusStatsFormatter::metricName): the namespace is stripped,
 * anything outside [a-zA-Z0-9_] becomes '_', and no `envoy_` prefix is added — so a name that is empty or starts with
 * a digit is not a valid Prometheus name and Envoy leaves the metric out (undefined here).
 */
export function prometheusName(name: string): string | undefined {
  const clean = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return clean === '' || /^[0-9]/.test(clean) ? undefined : clean;
}
