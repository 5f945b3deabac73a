// manifests/observability/: the PrometheusRule's groups pass `promtool check rules` and the unit tests in
// fixtures/tollgate-rules.test.yaml (`promtool test rules`); the Prometheus Operator objects have the fields the
// operator needs and point at what the base manifests define; every metric the rules and the dashboard read is one
// the code exports (read from the control service's GET /metrics and the filter's defined metrics, not a list);
// the dashboard is well-formed and takes its data source from a variable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { findOne, loadObjects } from './load-manifests.js';
import { controlMetricNames, envoyPrometheusName, exposedNames, filterMetricNames } from './observability-exports.js';
import { metricNames, substituteGrafanaVariables, templateQueryExpr } from './observability-promql.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the objects are walked loosely, as parsed YAML/JSON */
const root = new URL('../../', import.meta.url).pathname;
const dir = `${root}manifests/observability/`;
const fixture = new URL('./fixtures/tollgate-rules.test.yaml', import.meta.url).pathname;
const load = (file: string): any => parse(readFileSync(`${dir}${file}`, 'utf8'));
const rule = load('prometheusrule.yaml');
const serviceMonitor = load('servicemonitor.yaml');
const podMonitor = load('podmonitor.yaml');
const metricsPolicy = load('authorizationpolicy.yaml');
const kustomization = load('kustomization.yaml');
const dashboard = JSON.parse(readFileSync(`${dir}grafana-dashboard.json`, 'utf8')) as any;
const base = loadObjects();
const service = findOne(base, 'Service', 'tollgate-control') as any;
const deployment = findOne(base, 'Deployment', 'tollgate-control') as any;
const wasmPlugin = findOne(base, 'WasmPlugin') as any;

const alerts = (rule.spec.groups as any[]).flatMap((g) => g.rules as any[]).filter((r) => r.alert !== undefined);

// ---- promtool ---------------------------------------------------------------------------------------------------

/** Why promtool cannot run here, or undefined. With TOLLGATE_TEST_REQUIRE_TOOLS=1 (CI) its absence is a failure. */
function promtoolMissing(): string | undefined {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0 ? undefined : `promtool not found (${r.error?.message ?? `exit ${r.status}`}); install Debian's 'prometheus' package`;
}
const missing = promtoolMissing();
const required = process.env.TOLLGATE_TEST_REQUIRE_TOOLS === '1';
const skip = missing !== undefined && !required ? `skipped: ${missing}` : false;
if (skip) console.log(`# observability: promtool tests ${skip}`);

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  assert.equal(missing, undefined, `${missing} (TOLLGATE_TEST_REQUIRE_TOOLS=1 makes this a failure)`);
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

let work = '';
before(() => { work = mkdtempSync(join(tmpdir(), 'tollgate-rules-')); });
after(() => rmSync(work, { recursive: true, force: true }));

/** The PrometheusRule's spec is a Prometheus rule file: its groups, written out as one. */
function writeRules(groups: unknown, name = 'tollgate-rules.yaml'): string {
  writeFileSync(join(work, name), stringify({ groups }));
  return name;
}

test('promtool check rules accepts the PrometheusRule groups, and refuses a broken expression', { skip }, () => {
  const ok = promtool(['check', 'rules', writeRules(rule.spec.groups)], work);
  assert.equal(ok.status, 0, ok.output);
  assert.match(ok.output, new RegExp(`SUCCESS: ${(rule.spec.groups as any[]).reduce((n, g) => n + g.rules.length, 0)} rules found`));
  // The check bites: an expression that does not parse fails.
  const broken = structuredClone(rule.spec.groups);
  broken[0].rules[0].expr = 'sum by (pod (rate(tollgate_flush_failed[5m]))';
  const bad = promtool(['check', 'rules', writeRules(broken, 'broken.yaml')], work);
  assert.notEqual(bad.status, 0, bad.output);
});

test('promtool test rules: each alert fires on its input series, and not on the healthy ones', { skip }, () => {
  writeRules(rule.spec.groups);
  copyFileSync(fixture, join(work, 'tollgate-rules.test.yaml'));
  const r = promtool(['test', 'rules', 'tollgate-rules.test.yaml'], work);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS/);
  // Every alert is exercised: it appears in the unit tests with a firing expectation.
  const tests = parse(readFileSync(fixture, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
  const fired = new Set(tests.tests.flatMap((t) => t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname));
  assert.deepEqual([...fired].sort(), alerts.map((a) => a.alert as string).sort());
  // And the tests bite: a rule that fires too late fails them.
  const slower = structuredClone(rule.spec.groups);
  for (const g of slower) for (const a of g.rules) if (a.alert === 'TollgateProxiesNotConverging') a.for = '1h';
  writeRules(slower);
  const failing = promtool(['test', 'rules', 'tollgate-rules.test.yaml'], work);
  assert.notEqual(failing.status, 0, failing.output);
  assert.match(failing.output, /TollgateProxiesNotConverging/);
});

test('every dashboard query parses as PromQL (promtool, as recording rules)', { skip }, () => {
  const rules = dashboardExprs().map(({ expr }, i) => ({ record: `tollgate:dashboard_query_${i}`, expr: substituteGrafanaVariables(expr) }));
  assert.ok(rules.length >= 20, `${rules.length} queries`);
  const r = promtool(['check', 'rules', writeRules([{ name: 'dashboard', rules }], 'dashboard.yaml')], work);
  assert.equal(r.status, 0, r.output);
});

// ---- the alerts ---------------------------------------------------------------------------------------------------

test('the alerts the issue asks for exist, each with for:, a severity and summary/description with its runbook', () => {
  const names = alerts.map((a) => a.alert as string);
  for (const name of ['TollgateProxiesNotConverging', 'TollgateUsageFlushFailing', 'TollgateUsageDropped', 'TollgateControlDown', 'TollgateKeyFeedLag', 'TollgateKeyFeedFailing']) {
    assert.ok(names.includes(name), name);
  }
  assert.equal(new Set(names).size, names.length, 'duplicate alert names');
  const doc = readFileSync(`${root}docs/observability.md`, 'utf8');
  const anchors = new Set([...doc.matchAll(/^#{2,4} (.+)$/gm)].map((m) => githubAnchor(m[1] as string)));
  for (const a of alerts) {
    assert.match(a.for ?? '', /^[0-9]+[smh]$/, `${a.alert}: for`);
    assert.ok(['critical', 'warning', 'info'].includes(a.labels?.severity), `${a.alert}: severity`);
    assert.ok(a.annotations?.summary && a.annotations?.description, `${a.alert}: annotations`);
    const runbook = /docs\/observability\.md#([a-z0-9-]+)/.exec(a.annotations.description)?.[1];
    assert.ok(runbook !== undefined && anchors.has(runbook), `${a.alert}: runbook anchor ${runbook} is a heading in docs/observability.md`);
  }
});

/** GitHub's heading id: lower case, punctuation dropped, spaces to hyphens. */
function githubAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
}

// ---- metric names -------------------------------------------------------------------------------------------------

let exported: { control: string[]; filter: string[]; hasMetricsRoute: boolean } | undefined;
async function exportedNames(): Promise<{ control: string[]; filter: string[]; hasMetricsRoute: boolean }> {
  if (exported === undefined) {
    const control = await controlMetricNames();
    exported = { control: control.names, filter: await filterMetricNames(), hasMetricsRoute: control.hasMetricsRoute };
  }
  return exported;
}
/** Series Prometheus itself adds to every scrape target. */
const SCRAPE_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'];

function dashboardExprs(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of dashboard.panels as any[]) for (const t of (p.targets ?? []) as any[]) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
  for (const v of dashboard.templating.list as any[]) {
    if (v.type !== 'query') continue;
    const expr = templateQueryExpr(typeof v.query === 'string' ? v.query : v.query.query);
    if (expr !== undefined) out.push({ where: `variable ${v.name}`, expr });
  }
  return out;
}

test('the PromQL name scanner finds metric names and nothing else', () => {
  assert.deepEqual(metricNames('sum by (pod) (rate(a_total{x="b}",y=~"[c]"}[5m] offset 1h)) / on(pod) group_left(z) b > bool 0.5'), ['a_total', 'b']);
  assert.deepEqual(metricNames('max without(q) (c) or absent(up{job="j"}) unless count(d) * 1e3 and topk(3, e)'), ['c', 'd', 'e', 'up']);
  assert.equal(templateQueryExpr('label_values(tollgate_allowed, namespace)'), 'tollgate_allowed');
  assert.equal(templateQueryExpr('label_values(namespace)'), undefined);
  assert.equal(substituteGrafanaVariables('rate(x{n=~"$namespace"}[$__rate_interval])'), 'rate(x{n=~".+"}[5m])');
  assert.deepEqual(exposedNames('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE c counter\nc 1\n'), ['c', 'h', 'h_bucket', 'h_count', 'h_sum']);
  // Envoy's naming: the wasmcustom namespace goes, no envoy_ prefix, other characters become '_'.
  assert.equal(envoyPrometheusName('wasmcustom.tollgate_allowed'), 'tollgate_allowed');
  assert.equal(envoyPrometheusName('tollgate.flush-ok'), 'tollgate_flush_ok');
});

test('the code exports the metrics: control registry over GET /metrics, filter metrics as Envoy names them', async () => {
  const { control, filter, hasMetricsRoute } = await exportedNames();
  assert.ok(hasMetricsRoute);
  // Spot checks that the reading works at all (the lists themselves come from the code).
  assert.ok(control.includes('tollgate_usage_batches_total'), control.join(' '));
  assert.ok(control.some((n) => n.startsWith('tollgate_control_process_')), 'default process metrics');
  assert.ok(filter.includes('tollgate_allowed') && filter.includes('tollgate_keyfeed_revision'), filter.join(' '));
  assert.ok(filter.every((n) => !n.startsWith('envoy_') && !n.startsWith('wasmcustom')));
});

test('the dashboard and the alerts read only metrics the code exports', async () => {
  const { control, filter } = await exportedNames();
  const known = new Set([...control, ...filter, ...SCRAPE_SERIES]);
  const sources = [
    ...dashboardExprs(),
    ...alerts.map((a) => ({ where: `alert ${a.alert}`, expr: a.expr as string })),
  ];
  const unknown = sources.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !known.has(n)).map((n) => `${where}: ${n}`));
  assert.deepEqual(unknown, []);
  // Every filter metric and every tollgate_* control metric appears somewhere on the dashboard.
  const shown = new Set(dashboardExprs().flatMap(({ expr }) => metricNames(expr)));
  const notShown = [...filter, ...control.filter((n) => n.startsWith('tollgate_') && !n.startsWith('tollgate_control_'))].filter((n) => !shown.has(n));
  assert.deepEqual(notShown, []);
  // The check bites: a misspelled metric is caught.
  assert.deepEqual(metricNames('rate(tollgate_alowed[5m])').filter((n) => !known.has(n)), ['tollgate_alowed']);
});

// ---- the dashboard ------------------------------------------------------------------------------------------------

test('the dashboard: a uid, a Prometheus data source variable, every panel and query on it, no fixed data source uid', () => {
  assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/);
  assert.equal(typeof dashboard.title, 'string');
  assert.ok(Number.isInteger(dashboard.schemaVersion));
  const variable = (dashboard.templating.list as any[]).find((v) => v.type === 'datasource');
  assert.equal(variable?.query, 'prometheus');
  const ref = `\${${variable.name}}`;
  const panels = dashboard.panels as any[];
  assert.ok(panels.filter((p) => p.type !== 'row').length >= 20);
  assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique');
  for (const p of panels) {
    assert.ok(p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: gridPos`);
    if (p.type === 'row') continue;
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: ref }, p.title);
    assert.ok((p.targets as any[]).length > 0, p.title);
    for (const t of p.targets as any[]) {
      assert.deepEqual(t.datasource, { type: 'prometheus', uid: ref }, `${p.title} ${t.refId}`);
      assert.ok(typeof t.expr === 'string' && t.expr.length > 0);
    }
    assert.equal(new Set((p.targets as any[]).map((t) => t.refId)).size, p.targets.length, `${p.title}: refIds`);
  }
  // No data source uid other than the variable anywhere in the JSON (dashboards must import into any Grafana).
  const uids: string[] = [];
  const walk = (node: unknown, key?: string): void => {
    if (Array.isArray(node)) node.forEach((n) => walk(n));
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, k);
    else if (key === 'uid' && typeof node === 'string') uids.push(node);
  };
  walk(dashboard.panels);
  walk(dashboard.templating);
  assert.deepEqual([...new Set(uids)], [ref]);
  // Queries on the filter's series honour the namespace variable.
  for (const { where, expr } of dashboardExprs()) {
    if (/tollgate_(allowed|denied_|flush_|usage_dropped\b|keyfeed_|would_reject\b)/.test(expr) && where.startsWith('panel')) assert.match(expr, /namespace=~"\$namespace"/, where);
  }
});

// ---- the Prometheus Operator objects --------------------------------------------------------------------------------

test('kustomization lists every manifest here once and generates the dashboard ConfigMap for Grafana\'s sidecar', () => {
  const yamlFiles = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
  assert.deepEqual([...kustomization.resources].sort(), yamlFiles);
  const [generator] = kustomization.configMapGenerator as any[];
  assert.deepEqual(generator.files, ['grafana-dashboard.json']);
  assert.equal(generator.options.labels.grafana_dashboard, '1');
  assert.equal(generator.options.disableNameSuffixHash, true);
});

test('PrometheusRule, ServiceMonitor and PodMonitor have the operator\'s apiVersion, kind and required fields', () => {
  const objects = [rule, serviceMonitor, podMonitor];
  assert.deepEqual(objects.map((o) => `${o.apiVersion} ${o.kind}`), ['monitoring.coreos.com/v1 PrometheusRule', 'monitoring.coreos.com/v1 ServiceMonitor', 'monitoring.coreos.com/v1 PodMonitor']);
  for (const o of [...objects, metricsPolicy]) {
    assert.match(o.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.equal(o.metadata.namespace, service.metadata.namespace, `${o.kind}: in the control namespace`);
    assert.equal(o.metadata.labels['app.kubernetes.io/part-of'], 'tollgate');
  }
  // PrometheusRule: groups with unique names, each rule an alert or a record with an expr.
  const groups = rule.spec.groups as any[];
  assert.ok(groups.length > 0);
  assert.equal(new Set(groups.map((g) => g.name)).size, groups.length);
  for (const g of groups) for (const r of g.rules as any[]) assert.ok((typeof r.alert === 'string') !== (typeof r.record === 'string') && typeof r.expr === 'string', JSON.stringify(r));
  // Monitors: a selector, and endpoints with a port and a path.
  assert.ok(serviceMonitor.spec.selector.matchLabels && serviceMonitor.spec.endpoints.length > 0);
  assert.ok(podMonitor.spec.selector.matchLabels && podMonitor.spec.podMetricsEndpoints.length > 0);
  for (const e of [...serviceMonitor.spec.endpoints, ...podMonitor.spec.podMetricsEndpoints]) {
    assert.equal(typeof e.port, 'string');
    assert.match(e.path, /^\//);
    assert.match(e.interval, /^[0-9]+[smh]$/);
  }
});

test('the ServiceMonitor scrapes the control Service\'s port at /metrics with Istio mTLS, under the job the alerts use', async () => {
  for (const [k, v] of Object.entries(serviceMonitor.spec.selector.matchLabels as Record<string, string>)) assert.equal(service.metadata.labels[k], v, k);
  assert.deepEqual(serviceMonitor.spec.namespaceSelector.matchNames, [service.metadata.namespace]);
  const [endpoint] = serviceMonitor.spec.endpoints as any[];
  assert.ok((service.spec.ports as any[]).some((p) => p.name === endpoint.port), `Service has no port ${endpoint.port}`);
  assert.equal(endpoint.path, '/metrics');
  assert.ok((await exportedNames()).hasMetricsRoute);
  // STRICT mTLS in the control namespace: plain HTTP would be refused by the sidecar.
  const strict = base.find((o) => o.object.kind === 'PeerAuthentication' && o.object.metadata.namespace === service.metadata.namespace);
  assert.equal((strict?.object.spec as any)?.mtls?.mode, 'STRICT');
  assert.equal(endpoint.scheme, 'https');
  assert.ok(endpoint.tlsConfig.certFile && endpoint.tlsConfig.keyFile && endpoint.tlsConfig.caFile);
  // The operator names the job after the Service (no jobLabel set): the alerts' up{job=…} must say the same.
  assert.equal(serviceMonitor.spec.jobLabel, undefined);
  const jobs = new Set(alerts.flatMap((a) => [...(a.expr as string).matchAll(/up\{job="([^"]+)"\}/g)].map((m) => m[1])));
  assert.deepEqual([...jobs], [service.metadata.name]);
});

test('the metrics AuthorizationPolicy lets only GET /metrics through to the control pods', () => {
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  assert.equal(metricsPolicy.kind, 'AuthorizationPolicy');
  assert.equal(metricsPolicy.spec.action, 'ALLOW');
  for (const [k, v] of Object.entries(metricsPolicy.spec.selector.matchLabels as Record<string, string>)) assert.equal(podLabels[k], v, k);
  const [r] = metricsPolicy.spec.rules as any[];
  assert.equal(metricsPolicy.spec.rules.length, 1);
  assert.ok(r.from[0].source.namespaces.length > 0, 'names its caller');
  assert.deepEqual(r.to, [{ operation: { methods: ['GET'], paths: ['/metrics'] } }]);
});

test('the PodMonitor scrapes Envoy\'s stats port in the managed namespaces and keeps exactly the filter\'s metrics', async () => {
  assert.ok(podMonitor.spec.namespaceSelector.matchNames.includes(wasmPlugin.metadata.namespace));
  assert.equal(podMonitor.spec.selector.matchLabels['security.istio.io/tlsMode'], 'istio');
  const [endpoint] = podMonitor.spec.podMetricsEndpoints as any[];
  assert.equal(endpoint.port, 'http-envoy-prom');
  assert.equal(endpoint.path, '/stats/prometheus');
  const [keep] = endpoint.metricRelabelings as any[];
  assert.deepEqual(keep.sourceLabels, ['__name__']);
  assert.equal(keep.action, 'keep');
  // Prometheus anchors relabel regexes.
  const regex = new RegExp(`^(?:${keep.regex as string})$`);
  for (const name of (await exportedNames()).filter) assert.match(name, regex);
  for (const other of ['envoy_cluster_upstream_rq', 'istio_requests_total']) assert.doesNotMatch(other, regex);
});
/* eslint-enable @typescript-eslint/no-explicit-any */
