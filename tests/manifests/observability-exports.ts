// Test helper: the metric names the code exports, as Prometheus sees them — read from the running code, never
// from a list: the control service's GET /metrics (the whole app, every registry it serves) and the filter's
// proxy_define_metric calls (build/tollgate.wasm started in the Envoy-like host), named as Envoy exposes them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { prometheusName } from '../../host/runtime/metric-registry.js';
import { baseConfig, startHost } from '../filter/harness.js';

/** Series names a text exposition's `# TYPE` lines announce (histograms and summaries with their suffixed series). */
export function exposedNames(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
    if (m === null) continue;
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(`${name}${s}`);
  }
  return [...names].sort();
}

/** The control service's exported names: GET /metrics of a real app on a fresh SQLite store. */
export async function controlMetricNames(): Promise<{ names: string[]; hasMetricsRoute: boolean }> {
  const { buildApp } = await import('../../control/app.js');
  const { defaultSettings } = await import('../../control/settings.js');
  const dir = mkdtempSync(`${tmpdir()}/tollgate-obs-`);
  const app = await buildApp({ ...defaultSettings(dir), dbPath: `${dir}/t.db`, adminToken: 'a'.repeat(40), reportToken: 'r'.repeat(40), logLevel: 'silent' }, { announceAdminToken: () => {} });
  try {
    await app.ready();
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    if (response.statusCode !== 200) throw new Error(`GET /metrics: ${response.statusCode} ${response.body}`);
    return { names: exposedNames(response.body), hasMetricsRoute: app.hasRoute({ method: 'GET', url: '/metrics' }) };
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Envoy's Prometheus name for a stat a Wasm module defines: Envoy stores it as `wasmcustom.<name>`, and its
 * Prometheus formatter strips a registered custom namespace and adds no `envoy_` prefix (PrometheusStatsFormatter::
 * metricName, source/server/admin/prometheus_stats.cc), so what remains is the defined name, sanitized.
 */
export function envoyPrometheusName(statName: string): string | undefined {
  return prometheusName(statName.replace(/^wasmcustom\./, ''));
}

/** The filter's exported names: every metric build/tollgate.wasm defines once started, named as Envoy exports it. */
export async function filterMetricNames(): Promise<string[]> {
  const { host } = await startHost(baseConfig());
  try {
    return host.metrics().map((m) => envoyPrometheusName(m.name)).filter((n): n is string => n !== undefined).sort();
  } finally {
    await host.close();
  }
}
