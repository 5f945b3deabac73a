// The TypeScript contracts (contracts/) and the filter's AssemblyScript mirror agree: the real filter, on the host,
// accepts exactly the contract's periods, path forms and configuration version, and reports exactly the contract's
// outcomes under its metric names. A period, outcome or version changed on one side only fails here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigRejectedError } from '../../host/index.js';
import { FILTER_CONFIG_VERSION, NO_KEYS_MODES, PATH_FORMS, PERIODS, RATE_LIMIT_HEADER_STYLES, type FilterConfig } from '../../contracts/filter-config.js';
import {
  CREDIT_LIMIT_ID, CREDIT_REFILL_PERIODS, KEY_FEED_DELTAS_PATH, KEY_FEED_MAX_PAGE, KEY_FEED_MAX_WAIT_S, KEY_FEED_SNAPSHOT_PATH,
  setDigest, type FeedCredit, type FeedKey,
} from '../../contracts/key-feed.js';
import { compile } from '../../control/compiler/compile.js';
import { OUTCOME_EDGES, OUTCOMES, USAGE_REPORT_PATH, USAGE_REPORT_VERSION, type ProxyStatus } from '../../contracts/usage-report.js';
import { readFileSync } from 'node:fs';
import { baseConfig, digest as digestOf, startHost, type TestConfig } from '../filter/harness.js';
import { FEED_CLUSTER, FeedControl } from '../filter/feed-stub.js';
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
      node: 'required', vm: 'optional', configVersion: 'optional', feedEpoch: 'optional', feedRevision: 'optional', keys: 'optional',
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

describe('key feed contract: credit balances', () => {
  let feed: FeedControl;
  before(async () => { feed = new FeedControl(); await feed.listen(); });
  after(async () => feed.close());

  it('the filter\'s set digest over keys and balances equals setDigest, for every refill period and the number bounds; a 429 names CREDIT_LIMIT_ID', async () => {
    const sub = 'pln_gold/con_acme';
    const key: FeedKey = [digestOf('key-alpha'), 'key_alpha', 'con_acme', 'pln_gold', 0];
    feed.reset([key]);
    // Balances of every contract period, spread over several pages (pageKeys 2), with the contract's bounds.
    const credits: FeedCredit[] = [
      [sub, 'g0', 0, 0, '', 0],
      ...CREDIT_REFILL_PERIODS.map((per, i): FeedCredit => [`pln_gold/con_${per}`, `g-${per}_${i}`, 2 ** 53 - 1, 7, per, 1767225600]),
    ];
    for (const c of credits) feed.creditChange('set', c);
    const cfg = {
      version: FILTER_CONFIG_VERSION,
      apis: [{ id: 'api_orders', pathPrefix: '/orders' }],
      plans: [{ id: 'pln_gold', limits: [{ requests: 10, per: 'minute' }], apiIds: ['api_orders'] }],
      usage: { cluster: FEED_CLUSTER, authority: 'ctl.local', path: USAGE_REPORT_PATH, intervalMs: 1000 },
      keyFeed: { snapshotPath: KEY_FEED_SNAPSHOT_PATH, deltasPath: KEY_FEED_DELTAS_PATH, waitS: 0, pageKeys: 2, retryMs: 500 },
    };
    const h = await startHost(cfg, { clusters: feed.clusters(), workers: 1 });
    const metaDigest = (): string => Buffer.from(h.host.sharedData('tollgate').get('tg:kf:m')!.value).subarray(24, 32).toString('hex');
    try {
      for (let i = 0; i < 3; i++) { await h.host.advance(1000); await h.host.settle(); }
      assert.equal(metaDigest(), setDigest([key], credits), 'after the snapshot');
      // Deltas: a new grant, a removal; the digest follows.
      feed.creditChange('set', [sub, 'g1', 1, 0, '', 1767225600]);
      feed.creditChange('remove', credits[1]!);
      await h.host.advance(1000); await h.host.settle();
      assert.equal(metaDigest(), setDigest([key], feed.credits.values()), 'after deltas');
      assert.equal((await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } })).status, 200);
      const denied = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(denied.status, 429);
      assert.equal((JSON.parse(new TextDecoder().decode(denied.body)) as { limit: string }).limit, CREDIT_LIMIT_ID);
    } finally {
      await h.host.close();
    }
  });
});
