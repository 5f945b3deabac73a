// The TypeScript contracts (contracts/) and the filter's AssemblyScript mirror agree: the real filter, on the host,
// accepts exactly the contract's periods, path forms and configuration version, and reports exactly the contract's
// outcomes under its metric names. A period, outcome or version changed on one side only fails here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigRejectedError } from '../../host/index.js';
import { FILTER_CONFIG_VERSION, NO_KEYS_MODES, PATH_FORMS, PERIODS, RATE_LIMIT_HEADER_STYLES, type FilterConfig } from '../../contracts/filter-config.js';
import { KEY_FEED_DELTAS_PATH, KEY_FEED_MAX_PAGE, KEY_FEED_MAX_WAIT_S, KEY_FEED_SNAPSHOT_PATH } from '../../contracts/key-feed.js';
import { compile } from '../../control/compiler/compile.js';
import { OUTCOME_EDGES, OUTCOMES, USAGE_REPORT_PATH, USAGE_REPORT_VERSION, type ProxyStatus } from '../../contracts/usage-report.js';
import { readFileSync } from 'node:fs';
import { baseConfig, startHost, type TestConfig } from '../filter/harness.js';
import { Control, USAGE_CLUSTER } from '../filter/control-stub.js';

async function accepted(cfg: TestConfig): Promise<boolean> {
  try {
    await (await startHost(cfg, { workers: 1 })).host.close();
    return true;
  } catch (err) {
    if (err instanceof ConfigRejectedError) return false;
    throw err;
  }
}

describe('filter configuration contract', () => {
  it('the filter accepts every contract period and no other', async () => {
    for (const per of PERIODS) assert.equal(await accepted(baseConfig([{ requests: 1, per }])), true, per);
    for (const per of ['week', 'year', 'Minute', 'minutes']) assert.equal(await accepted(baseConfig([{ requests: 1, per }])), false, per);
  });

  it('the filter accepts every contract path form and no other, and only the contract\'s version', async () => {
    for (const form of PATH_FORMS) assert.equal(await accepted({ ...baseConfig(), passPathForms: [form] }), true, form);
    assert.equal(await accepted({ ...baseConfig(), passPathForms: ['absolute'] }), false);
    assert.equal(await accepted({ ...baseConfig(), version: FILTER_CONFIG_VERSION }), true);
    assert.equal(await accepted({ ...baseConfig(), version: FILTER_CONFIG_VERSION + 1 }), false);
  });
});

describe('filter configuration contract: limits that compose', () => {
  it('the filter accepts every contract header style and no other', async () => {
    for (const style of RATE_LIMIT_HEADER_STYLES) assert.equal(await accepted({ ...baseConfig(), rateLimitHeaderStyle: style }), true, style);
    for (const style of ['IETF', 'draft', '']) assert.equal(await accepted({ ...baseConfig(), rateLimitHeaderStyle: style }), false, style);
  });

  it('the filter accepts a configuration typed by the contract with every new field set', async () => {
    const cfg: FilterConfig = {
      version: FILTER_CONFIG_VERSION,
      apis: [{ id: 'api_a', pathPrefix: '/a', operations: [{ id: 'op_x', method: 'GET', path: '/a/x', limits: [{ requests: 5, per: 'minute', id: 'x5', shadow: true }] }] }],
      plans: [{ id: 'pln_p', apiIds: ['api_a'], shadow: false, limits: [
        { requests: 10, per: 'hour' },
        { requests: 3, per: 'minute', apiId: 'api_a', id: 'a3' },
        { requests: 1, per: 'second', apiId: 'api_a', operationId: 'op_x', shadow: true },
      ] }],
      keys: [], rateLimitHeaderStyle: 'both', shadowHeader: 'x-would-reject',
    };
    assert.equal(await accepted(cfg as unknown as TestConfig), true);
  });
});

describe('filter configuration contract: the key feed', () => {
  const usage = { cluster: USAGE_CLUSTER, authority: 'ctl.local', path: USAGE_REPORT_PATH, intervalMs: 1000, token: 'Bearer t' };
  const feed = { snapshotPath: KEY_FEED_SNAPSHOT_PATH, deltasPath: KEY_FEED_DELTAS_PATH, waitS: 25, pageKeys: 2000, retryMs: 2000 };
  const withFeed = (over: Record<string, unknown> = {}): TestConfig => {
    const { keys: _static, ...rest } = baseConfig();
    return { ...rest, usage, keyFeed: { ...feed, ...over } } as unknown as TestConfig;
  };

  it('the filter applies what the compiler writes: no keys, keyFeed with the contract\'s paths and defaults', async () => {
    const compiled = compile({ apis: [{ id: 'api_a', name: 'a', pathPrefix: '/a', hosts: [], methods: [], createdAt: 0, updatedAt: 0 }], plans: [] }, {
      usage: { cluster: USAGE_CLUSTER, authority: 'ctl.local', intervalMs: 1000, timeoutMs: 1000, reportToken: 'tgr_x' },
    });
    assert.equal('keys' in compiled.config, false);
    assert.equal(await accepted(compiled.json as unknown as TestConfig), true);
  });

  it('the filter accepts every contract whenNoKeys mode and the contract\'s bounds, and nothing else', async () => {
    for (const mode of NO_KEYS_MODES) assert.equal(await accepted(withFeed({ whenNoKeys: mode })), true, mode);
    assert.equal(await accepted(withFeed({ whenNoKeys: 'open' })), false);
    assert.equal(await accepted(withFeed({ waitS: KEY_FEED_MAX_WAIT_S, pageKeys: KEY_FEED_MAX_PAGE })), true);
    assert.equal(await accepted(withFeed({ waitS: KEY_FEED_MAX_WAIT_S + 1 })), false);
    assert.equal(await accepted(withFeed({ pageKeys: KEY_FEED_MAX_PAGE + 1 })), false);
    const { usage: _u, ...noUsage } = withFeed();
    assert.equal(await accepted(noUsage as TestConfig), false, 'keyFeed without usage');
  });
});

describe('usage report contract', () => {
  let control: Control;
  before(async () => { control = new Control(); await control.listen(); });
  after(async () => control.close());

  it('the filter reports exactly the contract\'s outcomes, and counts them under the contract\'s metric names', async () => {
    const cfg = baseConfig([{ requests: 1, per: 'hour' }]);
    cfg.usage = { cluster: USAGE_CLUSTER, authority: 'ctl.local', path: USAGE_REPORT_PATH, intervalMs: 1000, token: 'Bearer t' };
    const h = await startHost(cfg, { clusters: control.clusters(), workers: 1 });
    try {
      const key = { 'x-api-key': 'key-alpha' };
      assert.equal((await h.host.request({ method: 'GET', path: '/orders', headers: key })).status, 200);
      assert.equal((await h.host.request({ method: 'GET', path: '/orders', headers: key })).status, 429);
      assert.equal((await h.host.request({ method: 'GET', path: '/orders' })).status, 401);
      assert.equal((await h.host.request({ method: 'GET', path: '/admin', headers: key })).status, 403);
      for (let i = 0; i < 5; i++) {
        await h.host.advance(1000);
        await h.host.settle();
      }
      const reports = control.accepted();
      assert.ok(reports.every((r) => r.version === USAGE_REPORT_VERSION));
      assert.deepEqual([...new Set(reports.flatMap((r) => r.entries.map((e) => e.outcome)))].sort(), [...OUTCOMES].sort());
      const counters = new Map(h.host.metrics().filter((m) => m.type === 'counter').map((m) => [m.name, m.value]));
      for (const o of OUTCOMES) assert.equal(counters.get(OUTCOME_EDGES[o].filterMetric), 1, `${o} → ${OUTCOME_EDGES[o].filterMetric}`);
      // The shadow metric the contract names (contracts/filter-config.ts Limit) exists, at 0 without shadow limits.
      assert.equal(counters.get('tollgate_would_reject'), 0);
    } finally {
      await h.host.close();
    }
  });

  it('the filter echoes the compiled configVersion in the contract\'s ProxyStatus, whose fields the schema lists', async () => {
    // Every ProxyStatus field, checked by the type checker: a field added to the contract must be listed here.
    const fields: Record<keyof ProxyStatus, 'required' | 'optional'> = {
      node: 'required', configVersion: 'optional', feedEpoch: 'optional', feedRevision: 'optional', keys: 'optional',
      flushFailed: 'required', feedFailed: 'required', dropped: 'required',
    };
    const schema = JSON.parse(readFileSync(new URL('../../schemas/usage-report.v1.schema.json', import.meta.url), 'utf8')) as {
      properties: { proxy: { properties: Record<string, unknown>; required: string[] } };
    };
    assert.deepEqual(Object.keys(schema.properties.proxy.properties).sort(), Object.keys(fields).sort());
    assert.deepEqual([...schema.properties.proxy.required].sort(), Object.keys(fields).filter((f) => fields[f as keyof ProxyStatus] === 'required').sort());
    const compiled = compile({ apis: [{ id: 'api_a', name: 'a', pathPrefix: '/a', hosts: [], methods: [], createdAt: 0, updatedAt: 0 }], plans: [] }, {
      usage: { cluster: USAGE_CLUSTER, authority: 'ctl.local', intervalMs: 1000, timeoutMs: 1000, reportToken: 'tgr_x' },
    });
    assert.equal(compiled.config.configVersion, compiled.version);
    control.received = [];
    // Without the key feed: this stub control service answers usage reports only (the version is echoed as is).
    const { keyFeed: _feed, ...noFeed } = compiled.config;
    const h = await startHost(noFeed, { clusters: control.clusters(), workers: 1, properties: { 'xds.node.id': 'sidecar~1.2.3.4~p.ns~ns.svc.cluster.local' } });
    try {
      for (let i = 0; i < 3; i++) {
        await h.host.advance(1000);
        await h.host.settle();
      }
      const proxies = control.received.map((r) => (r.report as { proxy?: ProxyStatus }).proxy);
      assert.ok(proxies.length > 0);
      for (const p of proxies) {
        assert.ok(p !== undefined);
        assert.equal(p.configVersion, compiled.version);
        assert.equal(p.node, 'sidecar~1.2.3.4~p.ns~ns.svc.cluster.local');
        for (const k of Object.keys(p)) assert.ok(k in fields, `proxy.${k} is not in the contract`);
      }
    } finally {
      await h.host.close();
    }
  });
});
