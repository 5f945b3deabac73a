// Limits that compose (docs/filter-config.md "Limits that compose"), through the host with build/tollgate.wasm: every
// applicable limit must admit and the 429 names the one that denied; API- and operation-scoped limits count apart;
// operation defaults and plan overrides; shadow limits and shadow plans (admitted, upstream header, metric, usage
// wouldReject); legacy/IETF/both RateLimit headers; 4 racing workers exact with two scoped limits; a fleet window
// of a scope applied; configuration errors for each rule.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ConfigRejectedError } from '../../host/index.js';
import { baseConfig, header, headerAll, startHost, T0, type Harness, type TestConfig } from './harness.js';
import { Control, USAGE_CLUSTER, type Report } from './control-stub.js';

const ajv = new Ajv2020({ strict: false });
const validateReport = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/usage-report.v1.schema.json', import.meta.url), 'utf8')) as object);
const validateConfig = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/filter-config.v1.schema.json', import.meta.url), 'utf8')) as object);

type LimitJson = { requests: number; per: string; id?: string; apiId?: string; operationId?: string; shadow?: boolean };
type OpJson = { id: string; method: string; path: string; cost?: number; limits?: LimitJson[] };

const KEY = { 'x-api-key': 'key-alpha' };

/** Two APIs: api_orders with operations (op_list, op_get, op_create), api_admin without; the plan includes both. */
function config(limits: LimitJson[], opLimits: Record<string, LimitJson[]> = {}, extra: Record<string, unknown> = {}): TestConfig {
  const cfg = baseConfig(limits as Array<{ requests: number; per: string }>);
  const ops: OpJson[] = [
    { id: 'op_list', method: 'GET', path: '/orders' },
    { id: 'op_get', method: 'GET', path: '/orders/{id}' },
    { id: 'op_create', method: 'POST', path: '/orders' },
  ];
  for (const op of ops) if (opLimits[op.id] !== undefined) op.limits = opLimits[op.id];
  cfg.apis = [{ id: 'api_orders', pathPrefix: '/orders', methods: ['GET', 'POST'], operations: ops }, { id: 'api_admin', pathPrefix: '/admin' }];
  (cfg.plans[0] as { apiIds: string[] }).apiIds = ['api_orders', 'api_admin'];
  return Object.assign(cfg, extra);
}

const get = (h: Harness, path: string, worker?: number): ReturnType<Harness['host']['request']> =>
  h.host.request({ method: 'GET', path, headers: KEY, ...(worker !== undefined ? { worker } : {}) });

function problem(r: { body: Uint8Array }): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(r.body)) as Record<string, unknown>;
}

async function statuses(h: Harness, path: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(h, path)).status);
  return out;
}

describe('limits that compose', () => {
  it('every applicable limit must admit; the 429 names the denying limit; a per-API limit leaves other APIs alone', async () => {
    const cfg = config([{ requests: 100, per: 'minute' }, { requests: 3, per: 'minute', apiId: 'api_orders', id: 'orders-per-minute' }]);
    assert.ok(validateConfig(cfg), JSON.stringify(validateConfig.errors));
    const h = await startHost(cfg);
    try {
      assert.deepEqual(await statuses(h, '/orders', 3), [200, 200, 200]);
      const denied = await get(h, '/orders/7');
      assert.equal(denied.status, 429);
      assert.equal(problem(denied).limit, 'orders-per-minute');
      assert.equal(problem(denied).type, 'urn:tollgate:problem:quota-exceeded');
      assert.equal(header(denied.headers, 'ratelimit-limit'), '3');
      assert.equal(header(denied.headers, 'ratelimit-remaining'), '0');
      // api_admin: only the unscoped limit applies (4 counted: 3 orders + this one; the 429 spent nothing).
      const admin = await get(h, '/admin');
      assert.equal(admin.status, 200);
      assert.equal(header(admin.headers, 'ratelimit-limit'), '100');
      assert.equal(header(admin.headers, 'ratelimit-remaining'), '96');
      assert.equal(admin.hostCalls.proxy_get_shared_data, 1);
      assert.equal(admin.hostCalls.proxy_set_shared_data, 1);
    } finally {
      await h.host.close();
    }
  });

  it('the unscoped limit denies when it is the one without room, and is named by its default id', async () => {
    const h = await startHost(config([{ requests: 2, per: 'minute' }, { requests: 50, per: 'minute', apiId: 'api_admin' }]));
    try {
      assert.deepEqual(await statuses(h, '/admin', 2), [200, 200]);
      const denied = await get(h, '/admin');
      assert.equal(denied.status, 429);
      assert.equal(problem(denied).limit, 'minute');
    } finally {
      await h.host.close();
    }
  });

  it('per-operation limits count apart from each other and from the API; one get + one CAS for 3 limits', async () => {
    const h = await startHost(config([
      { requests: 100, per: 'hour' },
      { requests: 2, per: 'minute', apiId: 'api_orders', operationId: 'op_get' },
      { requests: 3, per: 'minute', apiId: 'api_orders', operationId: 'op_list' },
    ]));
    try {
      const first = await get(h, '/orders/1');
      assert.equal(first.status, 200);
      assert.equal(first.hostCalls.proxy_get_shared_data, 1);
      assert.equal(first.hostCalls.proxy_set_shared_data, 1);
      assert.equal(header(first.headers, 'ratelimit-limit'), '2', 'the tightest applicable limit');
      assert.equal((await get(h, '/orders/2')).status, 200);
      const denied = await get(h, '/orders/3');
      assert.equal(denied.status, 429);
      assert.equal(problem(denied).limit, 'api_orders/op_get:minute');
      assert.deepEqual(await statuses(h, '/orders', 4), [200, 200, 200, 429]);
      assert.equal((await h.host.request({ method: 'POST', path: '/orders', headers: KEY })).status, 200, 'op_create has no limit of its own');
    } finally {
      await h.host.close();
    }
  });

  it('operation defaults apply under every plan; a plan limit of the same scope and period overrides one', async () => {
    const cfg = config(
      [{ requests: 1000, per: 'day' }, { requests: 1, per: 'minute', apiId: 'api_orders', operationId: 'op_create', id: 'create-override' }],
      { op_list: [{ requests: 2, per: 'minute' }], op_create: [{ requests: 5, per: 'minute' }, { requests: 3, per: 'hour', id: 'create-hourly' }] },
    );
    assert.ok(validateConfig(cfg), JSON.stringify(validateConfig.errors));
    const h = await startHost(cfg);
    try {
      const list = await statuses(h, '/orders', 3);
      assert.deepEqual(list, [200, 200, 429]);
      const deniedList = await get(h, '/orders');
      assert.equal(problem(deniedList).limit, 'api_orders/op_list:minute');
      const post = (): ReturnType<Harness['host']['request']> => h.host.request({ method: 'POST', path: '/orders', headers: KEY });
      assert.equal((await post()).status, 200);
      const overridden = await post();
      assert.equal(overridden.status, 429, 'the plan\'s 1/minute replaces the default 5/minute');
      assert.equal(problem(overridden).limit, 'create-override');
      // The hour default is not overridden: 3 per hour across minutes.
      await h.host.advance(60_000);
      assert.equal((await post()).status, 200);
      await h.host.advance(60_000);
      assert.equal((await post()).status, 200);
      await h.host.advance(60_000);
      const hourly = await post();
      assert.equal(hourly.status, 429);
      assert.equal(problem(hourly).limit, 'create-hourly');
      assert.equal((await get(h, '/orders/9')).status, 200, 'op_get has no default');
    } finally {
      await h.host.close();
    }
  });
});

describe('a plan change', () => {
  it('keeps the counts of scoped limits whose scope and period survive (the entry grows and shrinks in place)', async () => {
    const h = await startHost(config([{ requests: 100, per: 'minute' }, { requests: 5, per: 'minute', apiId: 'api_orders' }]));
    try {
      assert.deepEqual(await statuses(h, '/orders', 3), [200, 200, 200]);
      const before = h.host.sharedData('tollgate').get('tg:q:pln_gold/con_acme')!.value.length;
      // One more scoped slot (api_admin), a new operation limit, the orders limit unchanged.
      await h.host.reconfigure(JSON.stringify(config([
        { requests: 100, per: 'minute' }, { requests: 5, per: 'minute', apiId: 'api_orders' },
        { requests: 2, per: 'minute', apiId: 'api_admin' }, { requests: 9, per: 'hour', apiId: 'api_orders', operationId: 'op_get' },
      ])));
      const r = await get(h, '/orders');
      assert.equal(r.status, 200);
      assert.equal(header(r.headers, 'ratelimit-remaining'), '1', '3 before the change + this one of 5');
      assert.ok(h.host.sharedData('tollgate').get('tg:q:pln_gold/con_acme')!.value.length > before, 'the entry grew');
      assert.deepEqual(await statuses(h, '/orders', 2), [200, 429]);
      // Back to the first plan: the orders window keeps its 5.
      await h.host.reconfigure(JSON.stringify(config([{ requests: 100, per: 'minute' }, { requests: 5, per: 'minute', apiId: 'api_orders' }])));
      const denied = await get(h, '/orders');
      assert.equal(denied.status, 429);
      assert.equal(problem(denied).limit, 'api_orders:minute');
      // A denial writes nothing; the next admitted request writes the entry back at the plan's size.
      await h.host.advance(60_000);
      assert.equal((await get(h, '/orders')).status, 200);
      assert.equal(h.host.sharedData('tollgate').get('tg:q:pln_gold/con_acme')!.value.length, before);
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });
});

describe('RateLimit header styles', () => {
  const limits: LimitJson[] = [{ requests: 3, per: 'minute', apiId: 'api_orders', id: 'orders-per-minute' }, { requests: 100, per: 'hour' }];

  it('ietf: RateLimit-Policy and RateLimit structured fields named by the limit id, on 200 and 429, and no legacy fields', async () => {
    const h = await startHost(config(limits, {}, { rateLimitHeaderStyle: 'ietf' }), { startTimeMs: T0 + 30_000 });
    try {
      const ok = await h.host.request({ method: 'GET', path: '/orders', headers: KEY }, () => ({
        status: 200, headers: [['ratelimit', '"up";r=1;t=1'], ['ratelimit-policy', '"up";q=1;w=1']],
      }));
      assert.equal(ok.status, 200);
      assert.deepEqual(headerAll(ok.headers, 'ratelimit-policy'), ['"orders-per-minute";q=3;w=60'], 'the upstream\'s copy replaced');
      assert.deepEqual(headerAll(ok.headers, 'ratelimit'), ['"orders-per-minute";r=2;t=30']);
      assert.equal(header(ok.headers, 'ratelimit-limit'), undefined);
      await get(h, '/orders');
      await get(h, '/orders');
      const denied = await get(h, '/orders');
      assert.equal(denied.status, 429);
      assert.equal(header(denied.headers, 'ratelimit-policy'), '"orders-per-minute";q=3;w=60');
      assert.equal(header(denied.headers, 'ratelimit'), '"orders-per-minute";r=0;t=30');
      assert.equal(header(denied.headers, 'retry-after'), '30');
      assert.equal(header(denied.headers, 'ratelimit-remaining'), undefined);
      // api_admin: the hour limit (default id "hour", a 3600 s window).
      const admin = await get(h, '/admin');
      assert.equal(header(admin.headers, 'ratelimit-policy'), '"hour";q=100;w=3600');
      assert.equal(header(admin.headers, 'ratelimit'), '"hour";r=96;t=3570');
    } finally {
      await h.host.close();
    }
  });

  it('both: legacy and IETF fields together; legacy (the default): only RateLimit-*', async () => {
    const both = await startHost(config(limits, {}, { rateLimitHeaderStyle: 'both' }));
    try {
      const r = await get(both, '/orders');
      assert.equal(header(r.headers, 'ratelimit-limit'), '3');
      assert.equal(header(r.headers, 'ratelimit-remaining'), '2');
      assert.match(header(r.headers, 'ratelimit-policy') ?? '', /^"orders-per-minute";q=3;w=60$/);
      assert.match(header(r.headers, 'ratelimit') ?? '', /^"orders-per-minute";r=2;t=\d+$/);
    } finally {
      await both.host.close();
    }
    const legacy = await startHost(config(limits));
    try {
      const r = await get(legacy, '/orders');
      assert.equal(header(r.headers, 'ratelimit-limit'), '3');
      assert.equal(header(r.headers, 'ratelimit-policy'), undefined);
      assert.equal(header(r.headers, 'ratelimit'), undefined);
    } finally {
      await legacy.host.close();
    }
  });

  it('a month window\'s w is that month\'s length', async () => {
    const h = await startHost(config([{ requests: 10, per: 'month', id: 'monthly' }], {}, { rateLimitHeaderStyle: 'ietf' }),
      { startTimeMs: Date.UTC(2024, 1, 10) });
    try {
      const r = await get(h, '/admin');
      assert.equal(header(r.headers, 'ratelimit-policy'), `"monthly";q=10;w=${29 * 86400}`);
    } finally {
      await h.host.close();
    }
  });
});

describe('4 workers racing with two scoped limits', () => {
  it('admits exactly each scoped limit under 10 interleaving seeds', async () => {
    let seedsWithRaces = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const h = await startHost(config([
        { requests: 1000, per: 'day' },
        { requests: 5, per: 'hour', apiId: 'api_orders', operationId: 'op_get' },
        { requests: 6, per: 'hour', apiId: 'api_admin' },
      ]), { workers: 4, interleaveSeed: seed });
      try {
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => get(h, i % 2 === 0 ? `/orders/${i}` : '/admin', i % 4)));
        const admittedGet = results.filter((r, i) => i % 2 === 0 && r.status === 200).length;
        const admittedAdmin = results.filter((r, i) => i % 2 === 1 && r.status === 200).length;
        assert.equal(admittedGet, 5, `seed ${seed}`);
        assert.equal(admittedAdmin, 6, `seed ${seed}`);
        assert.equal(results.filter((r) => r.status === 429).length, 40 - 11, `seed ${seed}`);
        assert.equal(h.host.stats().vmFailures, 0);
        const reads = results.reduce((a, r) => a + (r.hostCalls.proxy_get_shared_data ?? 0), 0);
        if (reads > results.length) seedsWithRaces++;
        // The unscoped day limit counted exactly the admitted requests: 989 left.
        const after = await get(h, '/orders');
        assert.equal(header(after.headers, 'ratelimit-remaining'), String(1000 - 12));
      } finally {
        await h.host.close();
      }
    }
    assert.ok(seedsWithRaces >= 5, `races happened under ${seedsWithRaces} seeds only`);
  });
});

describe('shadow limits and plans, with usage', () => {
  let control: Control;
  before(async () => { control = new Control(); await control.listen(); });
  after(async () => control.close());

  function withUsage(cfg: TestConfig): TestConfig {
    cfg.usage = { cluster: USAGE_CLUSTER, authority: 'ctl.local', path: '/v1/usage/reports', intervalMs: 1000, token: 'Bearer tgr_test' };
    return cfg;
  }

  async function start(cfg: TestConfig): Promise<Harness> {
    control.received = [];
    control.mode = 'ok';
    control.fleet = () => [];
    const h = await startHost(withUsage(cfg), { clusters: control.clusters() });
    for (let i = 0; i < 50 && !h.host.sharedData('tollgate').has('tg:primed'); i++) await h.host.settle();
    await h.host.settle();
    control.received = [];
    return h;
  }

  async function flushed(h: Harness): Promise<Report[]> {
    for (let i = 0; i < 2; i++) {
      await h.host.advance(1000);
      await h.host.settle();
    }
    const reports = control.accepted();
    for (const r of reports) assert.ok(validateReport(r), JSON.stringify(validateReport.errors));
    return reports;
  }

  it('a shadow limit never denies: admitted, counted, wouldReject in usage, the metric, the upstream header; a forged one removed', async () => {
    const h = await start(config(
      [{ requests: 100, per: 'minute' }, { requests: 1, per: 'minute', apiId: 'api_orders', id: 'orders-shadow', shadow: true }],
      {}, { shadowHeader: 'x-tollgate-shadow' },
    ));
    try {
      const seen: Array<string | undefined> = [];
      for (let i = 0; i < 3; i++) {
        const r = await h.host.request({ method: 'GET', path: '/orders', headers: { ...KEY, 'x-tollgate-shadow': 'forged' } });
        assert.equal(r.status, 200);
        seen.push(...(headerAll(r.upstreamRequest!.headers, 'x-tollgate-shadow').length === 0 ? [undefined] : headerAll(r.upstreamRequest!.headers, 'x-tollgate-shadow')));
        // The headers describe the enforced limit only.
        assert.equal(header(r.headers, 'ratelimit-limit'), '100');
        assert.equal(header(r.headers, 'ratelimit-remaining'), String(99 - i));
      }
      assert.deepEqual(seen, [undefined, 'orders-shadow', 'orders-shadow'], 'the first had room; a client\'s copy never passes');
      const admin = await h.host.request({ method: 'GET', path: '/admin', headers: KEY });
      assert.equal(header(admin.upstreamRequest!.headers, 'x-tollgate-shadow'), undefined, 'the shadow limit is scoped to api_orders');
      const reports = await flushed(h);
      const entries = reports.flatMap((r) => r.entries).filter((e) => e.apiId === 'api_orders');
      assert.equal(entries.reduce((a, e) => a + e.count, 0), 3);
      assert.equal(entries.reduce((a, e) => a + ((e as { wouldReject?: number }).wouldReject ?? 0), 0), 2);
      assert.ok(entries.every((e) => (e as { operationId?: string }).operationId === 'op_list'));
      assert.ok(reports.flatMap((r) => r.entries).filter((e) => e.apiId === 'api_admin').every((e) => !('operationId' in e) && !('wouldReject' in e)));
      assert.equal(h.host.metrics().find((m) => m.name === 'tollgate_would_reject')?.value, 2);
    } finally {
      await h.host.close();
    }
  });

  it('a shadow plan: nothing denied, every request a shadow limit had no room for counted; no RateLimit fields', async () => {
    const cfg = config([{ requests: 2, per: 'minute' }], { op_get: [{ requests: 1, per: 'minute' }] }, { shadowHeader: 'x-would' });
    (cfg.plans[0] as { shadow?: boolean }).shadow = true;
    const h = await start(cfg);
    try {
      const ups: Array<string | undefined> = [];
      for (let i = 0; i < 4; i++) {
        const r = await get(h, '/orders/1');
        assert.equal(r.status, 200);
        assert.equal(header(r.headers, 'ratelimit-limit'), undefined);
        ups.push(header(r.upstreamRequest!.headers, 'x-would'));
      }
      // 1st: room everywhere; 2nd: the operation default (1/minute) has none; 3rd, 4th: both (the first found is named).
      assert.deepEqual(ups, [undefined, 'api_orders/op_get:minute', 'minute', 'minute']);
      const reports = await flushed(h);
      const entries = reports.flatMap((r) => r.entries).filter((e) => e.outcome === 'allowed');
      assert.equal(entries.reduce((a, e) => a + ((e as { wouldReject?: number }).wouldReject ?? 0), 0), 3);
      assert.ok(entries.every((e) => (e as { operationId?: string }).operationId === 'op_get'));
      assert.equal(h.host.metrics().find((m) => m.name === 'tollgate_would_reject')?.value, 3);
    } finally {
      await h.host.close();
    }
  });

  it('a 429 of an operation is reported under it', async () => {
    const h = await start(config([{ requests: 1, per: 'minute', apiId: 'api_orders', operationId: 'op_get' }]));
    try {
      assert.deepEqual(await statuses(h, '/orders/1', 2), [200, 429]);
      const entries = (await flushed(h)).flatMap((r) => r.entries);
      const rejected = entries.find((e) => e.outcome === 'rejected_quota');
      assert.equal((rejected as { operationId?: string } | undefined)?.operationId, 'op_get');
    } finally {
      await h.host.close();
    }
  });

  it('a fleet window with a scope counts against that scope\'s limit only; an unknown scope is ignored', async () => {
    const h = await start(config([{ requests: 100, per: 'minute' }, { requests: 10, per: 'minute', apiId: 'api_orders' }]));
    try {
      control.fleet = (r) => (r.entries.length === 0 ? [] : [
        { subscription: 'pln_gold/con_acme', per: 'minute', windowStart: T0 / 1000, others: 7, scope: 'api_orders' },
        { subscription: 'pln_gold/con_acme', per: 'minute', windowStart: T0 / 1000, others: 1000, scope: 'api_nope' },
        { subscription: 'pln_gold/con_acme', per: 'minute', windowStart: T0 / 1000, others: 1000, scope: 'api_orders/op_nope' },
        { subscription: 'pln_gold/con_acme', per: 'minute', windowStart: T0 / 1000, others: 1000, scope: 'bad scope!' },
        { subscription: 'pln_gold/con_acme', per: 'minute', windowStart: T0 / 1000, others: 1000, scope: 7 },
      ]);
      assert.deepEqual(await statuses(h, '/orders', 2), [200, 200]);
      await h.host.advance(1000);
      await h.host.settle();
      // 2 local + 7 others + 1 = 10: one more, then the API's limit is out.
      assert.deepEqual(await statuses(h, '/orders', 2), [200, 429]);
      const admin = await get(h, '/admin');
      assert.equal(admin.status, 200, 'neither the scoped others nor the unknown/malformed scopes touched the whole subscription');
      assert.equal(header(admin.headers, 'ratelimit-remaining'), String(100 - 4));
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });
});

describe('configuration errors for limits that compose', () => {
  async function rejection(cfg: TestConfig): Promise<string> {
    try {
      const h = await startHost(cfg);
      await h.host.close();
      return 'accepted';
    } catch (err) {
      assert.ok(err instanceof ConfigRejectedError);
      return err.logs.map((l) => l.message).join(' | ');
    }
  }
  const L = (over: Partial<LimitJson>): LimitJson => ({ requests: 5, per: 'minute', ...over });

  it('name the field and the rule', async () => {
    const notInPlan = config([L({ apiId: 'api_admin' })]);
    (notInPlan.plans[0] as { apiIds: string[] }).apiIds = ['api_orders'];
    assert.match(await rejection(notInPlan), /plans\[0\]\.limits\[0\]\.apiId: 'api_admin' is not one of the plan's apiIds/);
    assert.match(await rejection(config([L({ apiId: 'api_gone' })])), /plans\[0\]\.limits\[0\]\.apiId: 'api_gone' is not one of the plan's apiIds/);
    assert.match(await rejection(config([L({ operationId: 'op_get' })])), /plans\[0\]\.limits\[0\]\.operationId: requires apiId/);
    assert.match(await rejection(config([L({ apiId: 'api_orders', operationId: 'op_nope' })])), /plans\[0\]\.limits\[0\]\.operationId: 'op_nope' is not an operation of API 'api_orders'/);
    assert.match(await rejection(config([L({ apiId: 'api_admin', operationId: 'op_get' })])), /'op_get' is not an operation of API 'api_admin'/);
    assert.match(await rejection(config([L({}), L({ requests: 9 })])), /plans\[0\]\.limits\[1\]\.id: duplicate limit id 'minute'/);
    assert.match(await rejection(config([L({ id: 'x' }), L({ per: 'hour', id: 'x' })])), /plans\[0\]\.limits\[1\]\.id: duplicate limit id 'x'/);
    assert.match(await rejection(config([L({ apiId: 'api_orders' }), L({ id: 'api_orders:minute', per: 'hour' })])), /duplicate limit id 'api_orders:minute'/);
    assert.match(await rejection(config(Array.from({ length: 17 }, (_, i) => L({ id: `l${i}` })))), /plans\[0\]\.limits: at most 16 entries/);
    assert.equal(await rejection(config(Array.from({ length: 16 }, (_, i) => L({ id: `l${i}` })))), 'accepted');
    assert.match(await rejection(config([], { op_get: Array.from({ length: 9 }, (_, i) => L({ id: `d${i}` })) })), /apis\[0\]\.operations\[1\]\.limits: at most 8 entries/);
    assert.match(await rejection(config([], { op_get: [L({}), L({ requests: 2 })] })), /apis\[0\]\.operations\[1\]\.limits\[1\]: duplicate limit id 'api_orders\/op_get:minute'/);
    assert.match(await rejection(config([], { op_get: [L({ apiId: 'api_orders' })] })), /apis\[0\]\.operations\[1\]\.limits\[0\]\.apiId: unknown field/);
    assert.match(await rejection(config([L({ id: 'has space' })])), /plans\[0\]\.limits\[0\]\.id: must be 1-64 chars/);
    assert.match(await rejection(config([L({ id: 'a'.repeat(65) })])), /plans\[0\]\.limits\[0\]\.id: must be 1-64 chars/);
    assert.match(await rejection(config([L({ shadow: 1 as unknown as boolean })])), /plans\[0\]\.limits\[0\]\.shadow: must be a boolean/);
    const badShadowPlan = config([L({})]);
    (badShadowPlan.plans[0] as { shadow?: unknown }).shadow = 'yes';
    assert.match(await rejection(badShadowPlan), /plans\[0\]\.shadow: must be a boolean/);
    assert.match(await rejection(config([L({})], {}, { rateLimitHeaderStyle: 'draft' })), /rateLimitHeaderStyle: must be one of legacy, ietf, both/);
    assert.match(await rejection(config([L({})], {}, { shadowHeader: 'X-Shadow' })), /shadowHeader: must be a lowercase header name/);
    assert.match(await rejection(config([L({})], {}, { shadowHeader: '' })), /shadowHeader: must be a lowercase header name/);
  });
});
