// The dashboard and the alerts against a real Prometheus (Debian's `prometheus`, the package promtool comes in):
// it scrapes a real control service's GET /metrics and the filter's metrics as our Envoy stand-in exposes them
// (build/tollgate.wasm after real requests), keeping the sidecar series with the PodMonitor's own relabeling, and
// loads the PrometheusRule's groups. Two proxies report their status (one mid-rollout, on an older configuration).
// Every dashboard query must return series (or read a labelled metric no event has created yet), the alerts stay
// quiet while all is well, and stopping the control service turns TollgateControlDown pending.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import type { FastifyInstance } from 'fastify';
import type { Host } from '../../host/index.js';
import { baseConfig, startHost } from '../filter/harness.js';
import { metricNames, templateQueryExpr } from './observability-promql.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed YAML/JSON and Prometheus API replies */
const dir = new URL('../../manifests/observability/', import.meta.url).pathname;
const rule = parse(readFileSync(`${dir}prometheusrule.yaml`, 'utf8'));
const podMonitor = parse(readFileSync(`${dir}podmonitor.yaml`, 'utf8'));
const dashboard = JSON.parse(readFileSync(`${dir}grafana-dashboard.json`, 'utf8'));

const probe = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
const missing = probe.error === undefined && probe.status === 0 ? undefined : `prometheus not found (${probe.error?.message ?? `exit ${probe.status}`}); install Debian's 'prometheus' package`;
const required = process.env.TOLLGATE_TEST_REQUIRE_TOOLS === '1';
const skip = missing !== undefined && !required ? `skipped: ${missing}` : false;
if (skip) console.log(`# observability: live Prometheus tests ${skip}`);

let work = '';
let app: FastifyInstance | undefined;
let host: Host | undefined;
let sidecar: Server | undefined;
let prometheus: ChildProcess | undefined;
let promLog = '';
let api = '';
let control = '';

const listen = (server: Server): Promise<number> => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((resolve) => s.close(resolve));
  return port;
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function query(expr: string): Promise<any[]> {
  const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await response.json() as any;
  assert.equal(body.status, 'success', `${expr}: ${JSON.stringify(body)}`);
  return body.data.result as any[];
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; prometheus said:\n${promLog.slice(-2000)}`);
    await sleep(250);
  }
}

before(async () => {
  if (skip) return;
  assert.equal(missing, undefined, `${missing} (TOLLGATE_TEST_REQUIRE_TOOLS=1 makes this a failure)`);
  work = mkdtempSync(join(tmpdir(), 'tollgate-prom-'));
  // The control service, on a fresh SQLite store, over real HTTP.
  const { buildApp } = await import('../../control/app.js');
  const { defaultSettings } = await import('../../control/settings.js');
  app = await buildApp({
    ...defaultSettings(work), dbPath: `${work}/t.db`, adminToken: 'a'.repeat(40), reportToken: 'r'.repeat(40), logLevel: 'silent',
    distribution: [{ kind: 'dir', path: join(work, 'gitops') }],
  }, { announceAdminToken: () => {} });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const controlPort = (app.server.address() as AddressInfo).port;
  control = `http://127.0.0.1:${controlPort}`;
  // Two proxies report their status over HTTP: one on the current configuration and key set, one still on an
  // older configuration (a rollout under way: the fleet gauges say so, no alert may fire yet).
  const { version } = await (await fetch(`${control}/v1/distribution`, { headers: { authorization: `Bearer ${'a'.repeat(40)}` } })).json() as { version: string };
  const feed = await app.store.keyFeed.state();
  for (const [i, configVersion] of [[1, version], [2, 'f'.repeat(64)]] as const) {
    const status = { node: `sidecar~10.0.0.${i}~shop-${i}.shop~shop.svc.cluster.local`, configVersion, feedEpoch: feed.epoch, feedRevision: feed.head, keys: 0, flushFailed: 0, feedFailed: 0, dropped: 0 };
    const report = { version: 1, batchId: `b${i}`.padEnd(32, '0'), reporter: `${i}`.repeat(16), entries: [], dropped: 0, proxy: status };
    const r = await fetch(`${control}/v1/usage/reports`, { method: 'POST', headers: { authorization: `Bearer ${'r'.repeat(40)}`, 'content-type': 'application/json' }, body: JSON.stringify(report) });
    assert.equal(r.status, 200, await r.text());
  }
  // The filter after real decisions (allowed, 401, 403), its counters pushed on the tick, served as Envoy's
  // /stats/prometheus would serve them.
  host = (await startHost(baseConfig())).host;
  const key = { 'x-api-key': 'key-alpha' };
  assert.equal((await host.request({ method: 'GET', path: '/orders', headers: key })).status, 200);
  assert.equal((await host.request({ method: 'GET', path: '/orders' })).status, 401);
  assert.equal((await host.request({ method: 'GET', path: '/admin', headers: key })).status, 403);
  await host.advance(6000);
  await host.settle();
  const h = host;
  sidecar = createServer((req, res) => {
    if (req.url !== '/stats/prometheus') return void res.writeHead(404).end();
    // Envoy's endpoint serves its own and Istio's stats besides the filter's: the PodMonitor must drop those.
    const envoyOwn = '# TYPE envoy_server_live gauge\nenvoy_server_live 1\n# TYPE istio_requests_total counter\nistio_requests_total{response_code="200"} 7\n';
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${envoyOwn}${h.prometheus()}`);
  });
  const sidecarPort = await listen(sidecar);
  // The PodMonitor's metricRelabelings, as Prometheus' metric_relabel_configs.
  const relabel = (podMonitor.spec.podMetricsEndpoints[0].metricRelabelings as any[]).map((r) => ({ source_labels: r.sourceLabels, regex: r.regex, action: r.action }));
  writeFileSync(join(work, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
  writeFileSync(join(work, 'prometheus.yaml'), stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: ['rules.yaml'],
    scrape_configs: [
      // The labels the operator's ServiceMonitor and PodMonitor would attach.
      { job_name: 'tollgate-control', metrics_path: '/metrics', static_configs: [{ targets: [`127.0.0.1:${controlPort}`], labels: { namespace: 'tollgate', pod: 'tollgate-control-0' } }] },
      { job_name: 'tollgate/tollgate-sidecars', metrics_path: '/stats/prometheus', static_configs: [{ targets: [`127.0.0.1:${sidecarPort}`], labels: { namespace: 'shop', pod: 'shop-0' } }], metric_relabel_configs: relabel },
    ],
  }));
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  prometheus = spawn('prometheus', [`--config.file=${join(work, 'prometheus.yaml')}`, `--storage.tsdb.path=${join(work, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stdout?.on('data', (d: Buffer) => { promLog += d.toString(); });
  prometheus.stderr?.on('data', (d: Buffer) => { promLog += d.toString(); });
  await until('prometheus ready', async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined));
  // Both targets up for a few scrapes, so rate() over the dashboard's interval has samples to work with.
  await until('both targets scraped', async () => {
    const r = await query('count_over_time(up[1m]) >= 4 and up == 1');
    return r.length === 2 ? true : undefined;
  });
});

after(async () => {
  prometheus?.kill('SIGTERM');
  if (prometheus !== undefined && prometheus.exitCode === null) await new Promise((resolve) => prometheus!.once('exit', resolve));
  await app?.close();
  await host?.close();
  await new Promise((resolve) => (sidecar === undefined ? resolve(undefined) : sidecar.close(resolve)));
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

/** A dashboard expression as Grafana would send it here: interval variables by durations the 1 s scrapes fill. */
function asSent(expr: string): string {
  return expr
    .replace(/\$\{?__rate_interval\}?/g, '10s')
    .replace(/\$\{?__range\}?/g, '1m')
    .replace(/\$\{?(namespace|target)\}?/g, '.+');
}

test('every dashboard query returns series from the real scrapes', { skip }, async () => {
  // A labelled metric has no series before its first event (prom-client prints only its HELP and TYPE): a query
  // reading one may come back empty. Which metrics those are is read from the control service's exposition now.
  const exposition = await (await fetch(`${control}/metrics`)).text();
  const declaredOnly = (name: string): boolean => exposition.includes(`# TYPE ${name} `) && !new RegExp(`^${name}[{ ]`, 'm').test(exposition);
  const empty: string[] = [];
  const awaitingEvents = new Set<string>();
  const check = async (where: string, expr: string): Promise<void> => {
    if ((await query(expr)).length > 0) return;
    const waiting = metricNames(expr).filter(declaredOnly);
    if (waiting.length === 0) empty.push(`${where}: ${expr}`);
    for (const n of waiting) awaitingEvents.add(n);
  };
  for (const p of dashboard.panels as any[]) for (const t of (p.targets ?? []) as any[]) await check(`panel "${p.title}" ${t.refId}`, asSent(t.expr));
  for (const v of dashboard.templating.list as any[]) {
    const expr = v.type === 'query' ? templateQueryExpr(v.query.query) : undefined;
    if (expr !== undefined) await check(`variable ${v.name}`, expr);
  }
  assert.deepEqual(empty, []);
  // Only the acks counter (no local proxy acked here) may be waiting: reports and the distribution did happen.
  assert.deepEqual([...awaitingEvents], ['tollgate_distribution_acks_total']);
  // The fleet as reported: two live proxies of the default target, one behind.
  const ratio = await query('max by (target) (tollgate_fleet_converged_ratio)');
  assert.deepEqual(ratio.map((s) => [s.metric.target, Number(s.value[1])]), [['default', 0.5]]);
  // The numbers are the filter's: one allowed, one 401, one 403 on pod shop-0 (labels as the PodMonitor gives).
  const decided = await query('sum by (namespace, pod) (tollgate_allowed + tollgate_denied_auth + tollgate_denied_forbidden)');
  assert.deepEqual(decided.map((s) => [s.metric, Number(s.value[1])]), [[{ namespace: 'shop', pod: 'shop-0' }, 3]]);
  // The relabeling kept only the tollgate_* series of the sidecar's endpoint.
  assert.deepEqual(await query('envoy_server_live or istio_requests_total'), []);
  const other = await query('count by (__name__) ({job="tollgate/tollgate-sidecars", __name__!~"tollgate_.*|up|scrape_.*"})');
  assert.deepEqual(other, []);
});

test('Prometheus loads the PrometheusRule groups and every rule evaluates without error; none fires while all is well', { skip }, async () => {
  const groups = await until('rules evaluated', async () => {
    const body = await (await fetch(`${api}/api/v1/rules`)).json() as any;
    const gs = body.data.groups as any[];
    return gs.length > 0 && gs.every((g) => g.rules.every((r: any) => r.health !== 'unknown')) ? gs : undefined;
  });
  assert.deepEqual(groups.map((g) => g.name).sort(), (rule.spec.groups as any[]).map((g) => g.name).sort());
  for (const g of groups) for (const r of g.rules as any[]) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError}`);
  for (const a of (rule.spec.groups as any[]).flatMap((g) => g.rules)) assert.deepEqual(await query(a.expr), [], `${a.alert} matches on a healthy system`);
  const alerts = await (await fetch(`${api}/api/v1/alerts`)).json() as any;
  assert.deepEqual(alerts.data.alerts, []);
});

test('stopping the control service makes TollgateControlDown pending', { skip }, async () => {
  await app!.close();
  app = undefined;
  const pending = await until('TollgateControlDown pending', async () => {
    const body = await (await fetch(`${api}/api/v1/alerts`)).json() as any;
    return (body.data.alerts as any[]).find((a) => a.labels.alertname === 'TollgateControlDown');
  });
  assert.equal(pending.state, 'pending'); // `for: 5m` has not elapsed
  assert.equal(pending.labels.severity, 'critical');
  // The replica alert matches the stopped replica too (pending for 15m).
  const replica = (await query('up{job="tollgate-control"} == 0')).map((s) => s.metric.pod);
  assert.deepEqual(replica, ['tollgate-control-0']);
});
/* eslint-enable @typescript-eslint/no-explicit-any */
