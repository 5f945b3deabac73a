// API operations through the Envoy-like host (docs/filter-config.md "Operations"): 404/405 only after the key check,
// unknownOperation "pass", per-operation cost spent as units (exact with 4 racing workers), cost 0 without a quota
// read, 1,000 operations, template precedence, normalized paths, HEAD vs GET, configuration errors, and units in
// the usage report.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ConfigRejectedError } from '../../host/index.js';
import { baseConfig, digest, header, startHost, type Harness, type TestConfig } from './harness.js';
import { Control, USAGE_CLUSTER } from './control-stub.js';

const KEY = { 'x-api-key': 'key-alpha' };
const OTHER = { 'x-api-key': 'key-other' };

/** An API /gh with operations (costs chosen so the units tell which operation matched), plus /orders without. */
function ghConfig(limits: Array<{ requests: number; per: string }>, unknownOperation?: 'reject' | 'pass'): TestConfig {
  const cfg = baseConfig(limits);
  cfg.apis = [
    {
      id: 'api_gh', pathPrefix: '/gh/',
      operations: [
        { id: 'repo_get', method: 'GET', path: '/gh/repos/{owner}/{repo}', cost: 2 },
        { id: 'repo_delete', method: 'DELETE', path: '/gh/repos/{owner}/{repo}', cost: 5 },
        { id: 'repo_mine', method: 'GET', path: '/gh/repos/mine/{repo}', cost: 3 },
        { id: 'contents', method: 'GET', path: '/gh/repos/{owner}/{repo}/contents/*', cost: 7 },
        { id: 'readme', method: 'GET', path: '/gh/repos/{owner}/{repo}/contents/README', cost: 11 },
        { id: 'meta', method: 'GET', path: '/gh/meta', cost: 0 },
        { id: 'user', method: 'GET', path: '/gh/user' },
        { id: 'user_head', method: 'HEAD', path: '/gh/user', cost: 13 },
      ],
      ...(unknownOperation ? { unknownOperation } : {}),
    },
    { id: 'api_orders', pathPrefix: '/orders', methods: ['GET', 'POST'] },
  ];
  cfg.plans = [
    { id: 'pln_gold', limits, apiIds: ['api_gh', 'api_orders'] },
    { id: 'pln_orders', limits, apiIds: ['api_orders'] },
  ];
  cfg.keys = [[digest('key-alpha'), 'key_alpha', 'con_acme', 0], [digest('key-other'), 'key_other', 'con_other', 1]];
  return cfg;
}

const problemType = (body: Uint8Array): string => (JSON.parse(new TextDecoder().decode(body)) as { type: string }).type;

describe('unknown operations', () => {
  let h: Harness;
  before(async () => { h = await startHost(ghConfig([{ requests: 1000, per: 'hour' }])); });
  after(async () => h.host.close());

  it('401 without a key before anything about the operation is told (404 or 405 alike)', async () => {
    for (const [method, path] of [['GET', '/gh/nothing'], ['PUT', '/gh/repos/a/b'], ['GET', '/gh/repos/a/b']]) {
      const r = await h.host.request({ method: method!, path: path! });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.equal(header(r.headers, 'allow'), undefined);
    }
  });

  it('403 when the plan lacks the API, before 404/405', async () => {
    for (const [method, path] of [['GET', '/gh/nothing'], ['PUT', '/gh/repos/a/b'], ['GET', '/gh/repos/a/b']]) {
      const r = await h.host.request({ method: method!, path: path!, headers: OTHER });
      assert.equal(r.status, 403, `${method} ${path}`);
    }
  });

  it('405 with Allow = the methods of every template matching the path; no quota used', async () => {
    const r = await h.host.request({ method: 'PUT', path: '/gh/repos/a/b', headers: KEY });
    assert.equal(r.status, 405);
    assert.equal(header(r.headers, 'allow'), 'GET, DELETE');
    assert.equal(problemType(r.body), 'urn:tollgate:problem:method-not-allowed');
    assert.equal(r.hostCalls.proxy_get_shared_data, undefined, 'no quota read');
    // mine/{repo} (GET) and {owner}/{repo} (GET, DELETE) both match: each method once, literal branch first.
    const mine = await h.host.request({ method: 'PATCH', path: '/gh/repos/mine/x', headers: KEY });
    assert.equal(header(mine.headers, 'allow'), 'GET, DELETE');
    const head = await h.host.request({ method: 'POST', path: '/gh/user', headers: KEY });
    assert.equal(header(head.headers, 'allow'), 'GET, HEAD');
  });

  it('404 problem+json when no template matches the path', async () => {
    for (const path of ['/gh/nothing', '/gh/repos/a', '/gh/repos/a/b/c', '/gh/', '/gh/repos/a/b/contents', '/gh/repos/a/b/contents/']) {
      const r = await h.host.request({ method: 'GET', path, headers: KEY });
      assert.equal(r.status, 404, path);
      assert.equal(header(r.headers, 'content-type'), 'application/problem+json');
      assert.equal(problemType(r.body), 'urn:tollgate:problem:not-found');
      assert.equal(r.upstreamRequest, undefined);
    }
  });

  it('an API without operations is unchanged', async () => {
    const r = await h.host.request({ method: 'GET', path: '/orders/anything/at/all', headers: KEY });
    assert.equal(r.status, 200);
    assert.equal(header(r.headers, 'ratelimit-remaining'), '999');
  });
});

describe('unknownOperation "pass"', () => {
  it('checks the key and counts one unit, as for an API without operations', async () => {
    const h = await startHost(ghConfig([{ requests: 100, per: 'hour' }], 'pass'));
    try {
      assert.equal((await h.host.request({ method: 'GET', path: '/gh/nothing' })).status, 401);
      assert.equal((await h.host.request({ method: 'GET', path: '/gh/nothing', headers: OTHER })).status, 403);
      const r = await h.host.request({ method: 'PUT', path: '/gh/repos/a/b', headers: KEY });
      assert.equal(r.status, 200);
      assert.equal(header(r.headers, 'ratelimit-remaining'), '99');
      const known = await h.host.request({ method: 'GET', path: '/gh/repos/a/b', headers: KEY });
      assert.equal(header(known.headers, 'ratelimit-remaining'), '97', 'a known operation still spends its cost');
    } finally {
      await h.host.close();
    }
  });
});

describe('matching through the host', () => {
  let h: Harness;
  let left = 1_000_000;
  before(async () => { h = await startHost(ghConfig([{ requests: 1_000_000, per: 'day' }])); });
  after(async () => h.host.close());

  /** The units the request spent (RateLimit-Remaining before − after), or its status when refused. */
  async function spent(method: string, path: string): Promise<number | string> {
    const r = await h.host.request({ method, path, headers: KEY });
    if (r.status !== 200) return `status ${r.status}`;
    const now = Number(header(r.headers, 'ratelimit-remaining') ?? String(left));
    const d = left - now;
    left = now;
    return d;
  }

  it('literal beats {param} beats *, per segment, backtracking when a branch has no operation', async () => {
    assert.equal(await spent('GET', '/gh/repos/acme/tool'), 2);
    assert.equal(await spent('GET', '/gh/repos/mine/tool'), 3);
    assert.equal(await spent('DELETE', '/gh/repos/mine/tool'), 5, 'mine/{repo} has no DELETE: {owner}/{repo} does');
    assert.equal(await spent('GET', '/gh/repos/a/b/contents/README'), 11);
    assert.equal(await spent('GET', '/gh/repos/a/b/contents/README/x'), 7);
    assert.equal(await spent('GET', '/gh/repos/a/b/contents/src/main.ts'), 7);
    assert.equal(await spent('GET', '/gh/user'), 1, 'default cost 1');
  });

  it('HEAD and GET are distinct methods', async () => {
    assert.equal(await spent('HEAD', '/gh/user'), 13);
    assert.equal(await spent('HEAD', '/gh/repos/a/b'), 'status 405');
  });

  it('matches the normalized path: escapes, slashes, ;params, query; dot segments are 400', async () => {
    assert.equal(await spent('GET', '/gh/%72epos/acme/tool'), 2);
    assert.equal(await spent('GET', '/gh//repos///acme/tool'), 2);
    assert.equal(await spent('GET', '/gh/repos;x=1/acme/tool'), 2);
    assert.equal(await spent('GET', '/gh/repos/acme/tool?page=2&x=/y'), 2);
    assert.equal(await spent('GET', '/gh/repos/mi%6Ee/tool'), 3);
    assert.equal(await spent('GET', '/gh/repos/acme%2Ftool'), 2, '%2F reads as /');
    assert.equal(await spent('GET', '/gh/repos/a%20b/tool'), 2, 'an escape that stays is one segment');
    assert.equal(await spent('GET', '/gh/repos/acme/tool/../../x'), 'status 400');
    assert.equal(await spent('GET', '/gh/repos/acme/%2e%2E/x'), 'status 400');
  });
});

describe('cost', () => {
  it('cost 0: no quota read at all, no RateLimit-* headers, never refused', async () => {
    const h = await startHost(ghConfig([{ requests: 2, per: 'hour' }]));
    try {
      const paid = await h.host.request({ method: 'GET', path: '/gh/user', headers: KEY });
      assert.equal(paid.hostCalls.proxy_get_shared_data, 1);
      assert.equal(paid.hostCalls.proxy_set_shared_data, 1);
      for (let i = 0; i < 5; i++) {
        const free = await h.host.request({ method: 'GET', path: '/gh/meta', headers: KEY });
        assert.equal(free.status, 200);
        assert.equal(free.hostCalls.proxy_get_shared_data, undefined);
        assert.equal(free.hostCalls.proxy_set_shared_data, undefined);
        assert.equal(header(free.headers, 'ratelimit-remaining'), undefined);
        const total = (r: typeof free): number => Object.values(r.hostCalls).reduce((a, b) => a + b, 0);
        // Two quota calls fewer, and on the response side one :status read instead of the RateLimit-* rewrite.
        assert.equal(total(free), total(paid) - 3);
      }
      assert.equal(header((await h.host.request({ method: 'GET', path: '/gh/user', headers: KEY })).headers, 'ratelimit-remaining'), '0');
    } finally {
      await h.host.close();
    }
  });

  it('a request is admitted only when all its units fit every limit; RateLimit-Remaining in units', async () => {
    const h = await startHost(ghConfig([{ requests: 10, per: 'minute' }, { requests: 12, per: 'hour' }]));
    try {
      let r = await h.host.request({ method: 'DELETE', path: '/gh/repos/a/b', headers: KEY });
      assert.equal(header(r.headers, 'ratelimit-remaining'), '5');
      r = await h.host.request({ method: 'DELETE', path: '/gh/repos/a/b', headers: KEY });
      assert.equal(r.status, 200);
      assert.equal(header(r.headers, 'ratelimit-remaining'), '0');
      r = await h.host.request({ method: 'GET', path: '/gh/repos/a/b', headers: KEY });
      assert.equal(r.status, 429);
      await h.host.advance(60_000);
      // The minute has room for 10, the hour only for 2 more: a cost-5 request no longer fits, a cost-2 one does.
      r = await h.host.request({ method: 'DELETE', path: '/gh/repos/a/b', headers: KEY });
      assert.equal(r.status, 429);
      assert.equal(header(r.headers, 'ratelimit-limit'), '12');
      assert.equal(header(r.headers, 'ratelimit-remaining'), '2', 'what is left of the limit that refused');
      r = await h.host.request({ method: 'GET', path: '/gh/repos/a/b', headers: KEY });
      assert.equal(r.status, 200);
      assert.equal(header(r.headers, 'ratelimit-remaining'), '0');
      // A cost above the limit itself is never admitted.
      const tiny = await startHost(ghConfig([{ requests: 4, per: 'minute' }]));
      try {
        assert.equal((await tiny.host.request({ method: 'DELETE', path: '/gh/repos/a/b', headers: KEY })).status, 429);
      } finally {
        await tiny.host.close();
      }
    } finally {
      await h.host.close();
    }
  });

  it('exact with 4 workers racing: cost 3 under a 50-unit limit admits 16 requests, for each of 20 seeds', async () => {
    let seedsWithRaces = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const cfg = ghConfig([{ requests: 50, per: 'hour' }, { requests: 1000, per: 'day' }]);
      (cfg.apis[0] as { operations: Array<{ cost?: number }> }).operations[0]!.cost = 3;
      const h = await startHost(cfg, { workers: 4, interleaveSeed: seed });
      try {
        const results = await Promise.all(Array.from({ length: 30 }, (_, i) =>
          h.host.request({ method: 'GET', path: `/gh/repos/o/r${i}`, headers: KEY, worker: i % 4 })));
        assert.equal(results.filter((r) => r.status === 200).length, 16, `seed ${seed}`);
        assert.equal(results.filter((r) => r.status === 429).length, 14, `seed ${seed}`);
        const reads = results.reduce((a, r) => a + (r.hostCalls.proxy_get_shared_data ?? 0), 0);
        if (reads > results.length) seedsWithRaces++;
        assert.equal(h.host.stats().vmFailures, 0);
      } finally {
        await h.host.close();
      }
    }
    assert.ok(seedsWithRaces >= 10, `races happened under ${seedsWithRaces} seeds only`);
  });

  it('mixed costs racing: the units admitted are exactly what the entry holds, never above the limit', async () => {
    const paths: Array<[string, string, number]> = [
      ['GET', '/gh/repos/o/r', 2], ['DELETE', '/gh/repos/o/r', 5], ['GET', '/gh/repos/mine/r', 3], ['GET', '/gh/user', 1],
    ];
    for (let seed = 1; seed <= 10; seed++) {
      const h = await startHost(ghConfig([{ requests: 40, per: 'minute' }]), { workers: 4, interleaveSeed: seed });
      try {
        const results = await Promise.all(Array.from({ length: 32 }, (_, i) => {
          const [method, path, cost] = paths[(i * 7 + seed) % paths.length]!;
          return h.host.request({ method, path, headers: KEY, worker: i % 4 }).then((r) => ({ r, cost }));
        }));
        const admitted = results.filter((x) => x.r.status === 200).reduce((a, x) => a + x.cost, 0);
        assert.ok(admitted <= 40 && admitted > 40 - 5, `seed ${seed}: ${admitted} units admitted`);
        const last = await h.host.request({ method: 'GET', path: '/gh/user', headers: KEY });
        const remaining = last.status === 200 ? Number(header(last.headers, 'ratelimit-remaining')) + 1 : 0;
        assert.equal(40 - admitted, remaining, `seed ${seed}: the entry counted every admitted unit once`);
      } finally {
        await h.host.close();
      }
    }
  });
});

describe('1,000 operations', () => {
  it('each request finds its own operation (costs tell them apart)', async () => {
    const cfg = baseConfig([{ requests: 2_000_000_000, per: 'month' }]);
    const operations: unknown[] = [];
    for (let i = 0; i < 250; i++) {
      const r = `/api/r${i}`;
      operations.push(
        { id: `o${i}_list`, method: 'GET', path: r, cost: 4 * i + 1 },
        { id: `o${i}_create`, method: 'POST', path: r, cost: 4 * i + 2 },
        { id: `o${i}_get`, method: 'GET', path: `${r}/{id}`, cost: 4 * i + 3 },
        { id: `o${i}_files`, method: 'GET', path: `${r}/{id}/files/*`, cost: 4 * i + 4 },
      );
    }
    cfg.apis = [{ id: 'api_big', pathPrefix: '/api/', operations }];
    cfg.plans = [{ id: 'pln_gold', limits: [{ requests: 2_000_000_000, per: 'month' }], apiIds: ['api_big'] }];
    const h = await startHost(cfg);
    try {
      let left = 2_000_000_000;
      for (const i of [0, 1, 137, 248, 249]) {
        for (const [method, path, cost] of [
          ['GET', `/api/r${i}`, 4 * i + 1], ['POST', `/api/r${i}`, 4 * i + 2], ['GET', `/api/r${i}/42`, 4 * i + 3],
          ['GET', `/api/r${i}/42/files/a/b`, 4 * i + 4],
        ] as Array<[string, string, number]>) {
          const r = await h.host.request({ method, path, headers: KEY });
          assert.equal(r.status, 200, `${method} ${path}`);
          const now = Number(header(r.headers, 'ratelimit-remaining'));
          assert.equal(left - now, cost, `${method} ${path}`);
          left = now;
        }
      }
      assert.equal((await h.host.request({ method: 'GET', path: '/api/r250', headers: KEY })).status, 404);
      assert.equal((await h.host.request({ method: 'DELETE', path: '/api/r7', headers: KEY })).status, 405);
    } finally {
      await h.host.close();
    }
  });
});

describe('deep templates and long paths', () => {
  it('a 511-segment template matches at full depth; 10,000-segment paths are decided without a trap', async () => {
    const deep = '/d' + '/a'.repeat(509);
    const cfg = baseConfig();
    cfg.apis = [{ id: 'api_deep', pathPrefix: '/d', operations: [{ id: 'deep', method: 'GET', path: `${deep}/*` }, { id: 'top', method: 'GET', path: '/d/{x}' }] }];
    cfg.plans = [{ id: 'pln_gold', limits: [{ requests: 100, per: 'minute' }], apiIds: ['api_deep'] }];
    const h = await startHost(cfg);
    try {
      assert.equal((await h.host.request({ method: 'GET', path: `${deep}/z/y`, headers: KEY })).status, 200);
      assert.equal((await h.host.request({ method: 'GET', path: deep, headers: KEY })).status, 404);
      assert.equal((await h.host.request({ method: 'GET', path: '/d' + '/b'.repeat(10_000), headers: KEY })).status, 404);
      assert.equal((await h.host.request({ method: 'GET', path: '/d' + '/a'.repeat(10_000), headers: KEY })).status, 200, 'the deep * takes the rest');
      assert.equal((await h.host.request({ method: 'GET', path: '/d/' + 'b'.repeat(20_000), headers: KEY })).status, 200);
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });
});

describe('configuration errors', () => {
  async function rejection(mutate: (cfg: TestConfig) => void): Promise<string> {
    const cfg = ghConfig([{ requests: 10, per: 'minute' }]);
    mutate(cfg);
    try {
      const h = await startHost(cfg);
      await h.host.close();
      return 'accepted';
    } catch (err) {
      assert.ok(err instanceof ConfigRejectedError);
      return err.logs.map((l) => l.message).join(' | ');
    }
  }
  const ops = (cfg: TestConfig): Array<Record<string, unknown>> => (cfg.apis[0] as { operations: Array<Record<string, unknown>> }).operations;

  it('name the field and keep the filter from loading', async () => {
    assert.match(await rejection((c) => { ops(c)[2]!.path = '/gh/repos/*/x'; }), /apis\[0\]\.operations\[2\]\.path: '\*' only as the last segment/);
    assert.match(await rejection((c) => { ops(c)[1]!.path = '/gh/repos/{a}/{b}'; ops(c)[1]!.method = 'GET'; }), /apis\[0\]\.operations\[1\]: duplicate method and template/);
    assert.match(await rejection((c) => { ops(c)[3]!.id = 'repo_get'; }), /apis\[0\]\.operations\[3\]\.id: duplicate operation id/);
    assert.match(await rejection((c) => { ops(c)[0]!.cost = -1; }), /apis\[0\]\.operations\[0\]\.cost: must be an integer in 0\.\.1000000/);
    assert.match(await rejection((c) => { ops(c)[0]!.path = '/other/x'; }), /apis\[0\]\.operations\[0\]\.path: can never match/);
    assert.match(await rejection((c) => { ops(c)[0]!.method = 'get'; }), /apis\[0\]\.operations\[0\]\.method: must be 1-16 uppercase letters/);
    assert.match(await rejection((c) => { (c.apis[1] as Record<string, unknown>).unknownOperation = 'pass'; }), /apis\[1\]\.unknownOperation: only with operations/);
    assert.equal(await rejection(() => undefined), 'accepted');
  });

  it('a reconfiguration with a bad operation keeps the previous configuration', async () => {
    const h = await startHost(ghConfig([{ requests: 10, per: 'minute' }]));
    try {
      const bad = ghConfig([{ requests: 10, per: 'minute' }]);
      ops(bad)[0]!.path = '/gh/a//b';
      await assert.rejects(h.host.reconfigure(JSON.stringify(bad)), ConfigRejectedError);
      const r = await h.host.request({ method: 'GET', path: '/gh/repos/a/b', headers: KEY });
      assert.equal(r.status, 200);
      assert.equal(header(r.headers, 'ratelimit-remaining'), '8');
    } finally {
      await h.host.close();
    }
  });
});

describe('units in the usage report', () => {
  const ajv = new Ajv2020({ strict: false });
  const validateReport = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/usage-report.v1.schema.json', import.meta.url), 'utf8')) as object);
  let control: Control;
  before(async () => { control = new Control(); await control.listen(); });
  after(async () => control.close());

  it('allowed entries carry units when they differ from count; 404/405 count as rejected_forbidden', async () => {
    const cfg = ghConfig([{ requests: 1000, per: 'hour' }]);
    cfg.usage = { cluster: USAGE_CLUSTER, authority: 'ctl.local', path: '/v1/usage/reports', intervalMs: 1000, token: 'Bearer t' };
    const h = await startHost(cfg, { clusters: control.clusters() });
    try {
      for (let i = 0; i < 50 && !h.host.sharedData('tollgate').has('tg:primed'); i++) await h.host.settle();
      control.received = [];
      await h.host.request({ method: 'GET', path: '/gh/repos/a/b', headers: KEY }); // 2
      await h.host.request({ method: 'DELETE', path: '/gh/repos/a/b', headers: KEY }); // 5
      await h.host.request({ method: 'GET', path: '/gh/meta', headers: KEY }); // 0
      await h.host.request({ method: 'GET', path: '/orders/1', headers: KEY }); // 1, no operations
      await h.host.request({ method: 'GET', path: '/gh/nothing', headers: KEY }); // 404
      await h.host.request({ method: 'PUT', path: '/gh/repos/a/b', headers: KEY }); // 405
      for (let i = 0; i < 3; i++) { await h.host.advance(1000); await h.host.settle(); }
      const entries = control.accepted().flatMap((r) => {
        assert.ok(validateReport(r), JSON.stringify(validateReport.errors));
        return r.entries as Array<{ apiId: string; outcome: string; count: number; units?: number }>;
      });
      const sum = (apiId: string, outcome: string, f: (e: { count: number; units?: number }) => number): number =>
        entries.filter((e) => e.apiId === apiId && e.outcome === outcome).reduce((a, e) => a + f(e), 0);
      assert.equal(sum('api_gh', 'allowed', (e) => e.count), 3);
      assert.equal(sum('api_gh', 'allowed', (e) => e.units ?? e.count), 7);
      assert.equal(sum('api_orders', 'allowed', (e) => e.count), 1);
      assert.ok(entries.filter((e) => e.apiId === 'api_orders').every((e) => e.units === undefined), 'one unit per request: no units field');
      assert.equal(sum('api_gh', 'rejected_forbidden', (e) => e.count), 2);
      assert.ok(entries.filter((e) => e.outcome !== 'allowed').every((e) => e.units === undefined));
    } finally {
      await h.host.close();
    }
  });
});
