// Limits that compose and shadow mode on the control side (docs/control.md "Limits that compose"), on the run's backend
// (SQLite, or PostgreSQL with TOLLGATE_TEST_STORE=postgres): plan limits scoped to an API or operation, ids, shadow,
// operation default limits from x-tollgate, the re-import rule for operations a plan limits, the target's header
// settings, what the compiler writes, and a store from before migration 010 carried over unchanged.
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { compile } from '../../control/compiler/compile.js';
import { planLimitProblems, sortLimits } from '../../control/limit-rules.js';
import type { ApiOperation, CatalogApi, Plan } from '../../control/store/types.js';
import { ADMIN, testApp, testStoreUrl, type TestApp } from './helpers.js';
import { storeAtVersion } from './old-store.js';

interface Op { id: string; key: string; operationId: string | null; limits: unknown[] }
interface PlanV { id: string; limits: Record<string, unknown>[]; apiIds: string[]; shadow: boolean }
interface Problem { status: number; detail?: string; errors?: { path: string }[] }

const ok = { 200: { description: 'ok' } };
const filterSchema = JSON.parse(readFileSync(new URL('../../schemas/filter-config.v1.schema.json', import.meta.url), 'utf8')) as object;
const validateConfig = new Ajv2020({ allErrors: true, strict: false }).compile(filterSchema);
const doc = (paths: Record<string, unknown>, title = 'Shop'): Record<string, unknown> => ({
  openapi: '3.1.0', info: { title, version: '1' }, servers: [{ url: 'https://shop.example.com/shop' }], paths,
});
const SHOP = {
  '/orders': {
    get: { operationId: 'listOrders', responses: ok, 'x-tollgate': { limits: [{ requests: 100, per: 'minute' }, { requests: 5, per: 'second', id: 'burst', shadow: true }] } },
    post: { operationId: 'createOrder', responses: ok, 'x-tollgate': { cost: 5 } },
  },
  '/orders/{id}': { get: { operationId: 'getOrder', responses: ok } },
};

describe('limits that compose over REST', () => {
  let t: TestApp;
  let apiId: string;
  let otherApi: string;
  let ops: Map<string, Op>;
  const importDoc = (d: unknown, query = '') => t.app.inject({
    method: 'POST', url: `/v1/apis:import${query}`, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, payload: JSON.stringify(d),
  });
  const operations = async (id: string): Promise<Map<string, Op>> =>
    new Map((await t.admin('GET', `/v1/apis/${id}/operations?limit=500`)).json<{ items: Op[] }>().items.map((o) => [o.key, o]));

  before(async () => {
    t = await testApp();
    const res = await importDoc(doc(SHOP));
    assert.equal(res.statusCode, 201, res.body);
    apiId = res.json<{ api: { id: string } }>().api.id;
    ops = await operations(apiId);
    otherApi = (await t.admin('POST', '/v1/apis', { name: 'other', pathPrefix: '/other' })).json<{ id: string }>().id;
  });
  after(async () => t.close());

  it('x-tollgate limits are stored with the operation and listed', () => {
    assert.deepEqual(ops.get('listOrders')!.limits, [{ requests: 100, per: 'minute' }, { requests: 5, per: 'second', id: 'burst', shadow: true }]);
    assert.deepEqual(ops.get('createOrder')!.limits, []);
  });

  it('a plan with composed limits is stored as given (unset fields stay absent) and read back', async () => {
    const op = ops.get('getOrder')!.id;
    const limits = [
      { requests: 1000, per: 'day' },
      { requests: 50, per: 'minute', apiId },
      { requests: 10, per: 'minute', apiId, operationId: op, id: 'get-order', shadow: true },
      { requests: 20, per: 'minute', apiId, operationId: op, shadow: false },
    ];
    const res = await t.admin('POST', '/v1/plans', { name: 'composed', limits, apiIds: [apiId], shadow: true });
    assert.equal(res.statusCode, 201, res.body);
    const plan = res.json<PlanV>();
    assert.equal(plan.shadow, true);
    // shadow: false is the default, so it is not kept.
    assert.deepEqual(plan.limits, [limits[0], limits[1], limits[2], { requests: 20, per: 'minute', apiId, operationId: op }]);
    assert.deepEqual((await t.admin('GET', `/v1/plans/${plan.id}`)).json<PlanV>(), plan);
    const plain = (await t.admin('POST', '/v1/plans', { name: 'plain', limits: [{ requests: 1, per: 'hour' }], apiIds: [] })).json<PlanV>();
    assert.equal(plain.shadow, false, 'shadow defaults to false');
    const off = await t.admin('PATCH', `/v1/plans/${plan.id}`, { shadow: false });
    assert.equal(off.json<PlanV>().shadow, false);
    assert.deepEqual(off.json<PlanV>().limits, plan.limits, 'PATCH of shadow keeps the limits');
  });

  it('refuses limits naming an API outside the plan, an unknown operation, an operation without its API, colliding ids (422 problem+json)', async () => {
    const op = ops.get('getOrder')!.id;
    const cases: [unknown[], string[], RegExp][] = [
      [[{ requests: 1, per: 'minute', apiId: otherApi }], [apiId], /limits\/0\/apiId: api '.+' is not one of the plan's apiIds/],
      [[{ requests: 1, per: 'minute', apiId, operationId: 'op_nothere' }], [apiId], /limits\/0\/operationId: 'op_nothere' is not an operation of api/],
      [[{ requests: 1, per: 'minute', apiId: otherApi, operationId: op }], [apiId, otherApi], /is not an operation of api/],
      [[{ requests: 1, per: 'minute', operationId: op }], [apiId], /limits\/0\/operationId: needs the operation's apiId/],
      [[{ requests: 1, per: 'minute' }, { requests: 2, per: 'minute' }], [], /limits\/1: id 'minute' is also limits\/0's/],
      [[{ requests: 1, per: 'minute', id: 'x' }, { requests: 2, per: 'hour', id: 'x' }], [], /id 'x'/],
      [[{ requests: 1, per: 'minute', apiId }, { requests: 2, per: 'minute', apiId, id: `${apiId}:minute` }], [apiId], /is also limits\/0's/],
    ];
    for (const [limits, apiIds, detail] of cases) {
      const res = await t.admin('POST', '/v1/plans', { name: 'bad', limits, apiIds });
      assert.equal(res.statusCode, 422, `${JSON.stringify(limits)}: ${res.body}`);
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
      assert.match(res.json<Problem>().detail!, detail);
    }
    const schema: unknown[][] = [
      Array.from({ length: 17 }, (_, i) => ({ requests: i + 1, per: 'day', id: `d${i}` })),
      [{ requests: 1, per: 'minute', id: 'has space' }],
      [{ requests: 1, per: 'minute', shadow: 'yes' }],
      [{ requests: 1, per: 'minute', colour: 'red' }],
    ];
    for (const limits of schema) assert.equal((await t.admin('POST', '/v1/plans', { name: 'bad', limits, apiIds: [] })).statusCode, 400, JSON.stringify(limits));
    const sixteen = Array.from({ length: 16 }, (_, i) => ({ requests: i + 1, per: 'day', id: `d${i}` }));
    assert.equal((await t.admin('POST', '/v1/plans', { name: 'sixteen', limits: sixteen, apiIds: [] })).statusCode, 201);
    const names = (await t.admin('GET', '/v1/plans?limit=500')).json<{ items: { name: string }[] }>().items.map((p) => p.name);
    assert.ok(!names.includes('bad'), 'nothing of a refused plan is stored');
  });

  it('PATCH checks the plan as it would be: dropping the API a limit names is refused, and nothing changes', async () => {
    const plan = (await t.admin('POST', '/v1/plans', { name: 'patchme', limits: [{ requests: 5, per: 'minute', apiId }], apiIds: [apiId, otherApi] })).json<PlanV>();
    const res = await t.admin('PATCH', `/v1/plans/${plan.id}`, { apiIds: [otherApi] });
    assert.equal(res.statusCode, 422, res.body);
    assert.deepEqual((await t.admin('GET', `/v1/plans/${plan.id}`)).json<PlanV>(), plan);
    const moved = await t.admin('PATCH', `/v1/plans/${plan.id}`, { apiIds: [otherApi], limits: [{ requests: 5, per: 'minute', apiId: otherApi }] });
    assert.equal(moved.statusCode, 200, moved.body);
    assert.equal((await t.admin('PATCH', `/v1/plans/${plan.id}`, { limits: [{ requests: 5, per: 'minute', apiId }] })).statusCode, 422);
  });

  it('a re-import changing limits shows them in the diff; one removing an operation a plan limits is refused (409 naming the plan), dry run too', async () => {
    const changed = { ...SHOP, '/orders': { ...SHOP['/orders'], get: { ...SHOP['/orders'].get, 'x-tollgate': { limits: [{ requests: 200, per: 'minute' }] } } } };
    const dry = await importDoc(doc(changed), `?apiId=${apiId}&dryRun=true`);
    assert.equal(dry.statusCode, 200, dry.body);
    const change = dry.json<{ diff: { operations: { changed: { key: string; before: { limits?: unknown }; after: { limits?: unknown } }[] } } }>().diff.operations.changed;
    assert.deepEqual(change.map((c) => c.key), ['listOrders']);
    assert.deepEqual(change[0]!.after.limits, [{ requests: 200, per: 'minute' }]);
    assert.equal(change[0]!.before.limits !== undefined, true);
    const planned = (await t.admin('GET', '/v1/plans?limit=500')).json<{ items: PlanV[] }>().items.find((p) => p.limits.some((l) => l.operationId === ops.get('getOrder')!.id))!;
    const { '/orders/{id}': _gone, ...withoutGet } = changed;
    for (const query of [`?apiId=${apiId}&dryRun=true`, `?apiId=${apiId}`]) {
      const refused = await importDoc(doc(withoutGet), query);
      assert.equal(refused.statusCode, 409, refused.body);
      assert.match(refused.json<Problem>().detail!, new RegExp(`plan '${planned.id}' limits operation\\(s\\) ${ops.get('getOrder')!.id}`));
    }
    assert.deepEqual([...(await operations(apiId)).keys()].sort(), ['createOrder', 'getOrder', 'listOrders'], 'nothing of the refused import is stored');
    const applied = await importDoc(doc(changed), `?apiId=${apiId}`);
    assert.equal(applied.statusCode, 200);
    assert.deepEqual((await operations(apiId)).get('listOrders')!.limits, [{ requests: 200, per: 'minute' }]);
  });

  it('the compiled configuration carries plan limits (sorted), plan shadow, operation limits and the target\'s header settings', async () => {
    await t.app.distributor.flush();
    const before = t.app.distributor.current!.compiled.config;
    assert.equal(before.rateLimitHeaderStyle, undefined);
    assert.equal(before.shadowHeader, undefined);
    const target = await t.admin('PATCH', '/v1/targets/default', { rateLimitHeaderStyle: 'both', shadowHeader: 'x-tollgate-shadow' });
    assert.equal(target.statusCode, 200, target.body);
    assert.equal(target.json<{ rateLimitHeaderStyle: string }>().rateLimitHeaderStyle, 'both');
    assert.equal((await t.admin('PATCH', '/v1/targets/default', { shadowHeader: 'Bad Header' })).statusCode, 400);
    assert.equal((await t.admin('PATCH', '/v1/targets/default', { rateLimitHeaderStyle: 'rfc' })).statusCode, 400);
    await t.app.distributor.flush();
    const config = t.app.distributor.current!.compiled.config;
    assert.ok(validateConfig(config), JSON.stringify(validateConfig.errors));
    assert.equal(config.rateLimitHeaderStyle, 'both');
    assert.equal(config.shadowHeader, 'x-tollgate-shadow');
    const getOrder = ops.get('getOrder')!.id;
    const composed = config.plans.find((p) => p.limits.some((l) => l.id === 'get-order'))!;
    assert.deepEqual(composed.limits, [
      { requests: 1000, per: 'day' },
      { requests: 50, per: 'minute', apiId },
      { requests: 10, per: 'minute', id: 'get-order', apiId, operationId: getOrder, shadow: true },
      { requests: 20, per: 'minute', apiId, operationId: getOrder },
    ]);
    assert.equal(composed.shadow, undefined, 'plan shadow was switched off');
    const list = config.apis.find((a) => a.id === apiId)!.operations!.find((o) => o.id === ops.get('listOrders')!.id)!;
    assert.deepEqual(list.limits, [{ requests: 200, per: 'minute' }]);
    assert.equal(config.apis.find((a) => a.id === apiId)!.operations!.find((o) => o.id === ops.get('createOrder')!.id)!.limits, undefined);
    const reset = await t.admin('PATCH', '/v1/targets/default', { rateLimitHeaderStyle: 'legacy', shadowHeader: null });
    assert.equal(reset.json<{ shadowHeader: unknown }>().shadowHeader, null);
    await t.app.distributor.flush();
    assert.equal(t.app.distributor.current!.compiled.config.shadowHeader, undefined);
  });
});

describe('a plan limiting an operation races a re-import removing it', () => {
  let t: TestApp;
  before(async () => {
    t = await testApp();
  });
  after(async () => t.close());

  it('whichever commits first wins: never a plan limiting an operation that no longer exists', async () => {
    const send = (d: unknown, query = '') => t.app.inject({
      method: 'POST', url: `/v1/apis:import${query}`, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, payload: JSON.stringify(d),
    });
    const full = { '/a': { get: { operationId: 'a', responses: ok } }, '/b': { get: { operationId: 'b', responses: ok } } };
    const apiId = (await send(doc(full, 'Race'))).json<{ api: { id: string } }>().api.id;
    for (let round = 0; round < 8; round++) {
      const restored = await send(doc(full, 'Race'), `?apiId=${apiId}`);
      assert.equal(restored.statusCode, 200, restored.body);
      const opB = (await t.admin('GET', `/v1/apis/${apiId}/operations`)).json<{ items: Op[] }>().items.find((o) => o.key === 'b')!.id;
      const [plan, imported] = await Promise.all([
        t.admin('POST', '/v1/plans', { name: `race-${round}`, limits: [{ requests: 1, per: 'minute', apiId, operationId: opB }], apiIds: [apiId] }),
        send(doc({ '/a': full['/a'] }, 'Race'), `?apiId=${apiId}`),
      ]);
      const left = (await t.admin('GET', `/v1/apis/${apiId}/operations`)).json<{ items: Op[] }>().items.map((o) => o.id);
      if (plan.statusCode === 201) {
        assert.equal(imported.statusCode, 409, `round ${round}: the plan won, the import must be refused: ${imported.body}`);
        assert.ok(left.includes(opB));
        assert.equal((await t.admin('DELETE', `/v1/plans/${plan.json<PlanV>().id}`)).statusCode, 204);
      } else {
        assert.equal(plan.statusCode, 422, `round ${round}: ${plan.body}`);
        assert.equal(imported.statusCode, 200, imported.body);
        assert.ok(!left.includes(opB));
      }
    }
  });
});

describe('compile: composed limits', () => {
  const api = (id: string): CatalogApi => ({ id, name: id, pathPrefix: `/${id}`, hosts: [], methods: [], createdAt: 0, updatedAt: 0 });
  const op = (id: string, apiId: string, limits: ApiOperation['limits'] = []): ApiOperation =>
    ({ id, apiId, key: id, operationId: null, method: 'GET', path: `/${apiId}/${id}`, cost: 1, visibility: 'public', summary: null, position: 0, limits });
  const plan: Plan = {
    id: 'pln_a', name: 'a', apiIds: ['a', 'b'], shadow: true, createdAt: 0, updatedAt: 0,
    limits: [
      { requests: 3, per: 'minute', apiId: 'b', operationId: 'op_b1', shadow: false },
      { requests: 9, per: 'minute', apiId: 'b' },
      { requests: 100, per: 'day' },
      { requests: 7, per: 'second', apiId: 'a', operationId: 'op_a1', id: 'z' },
      { requests: 10, per: 'minute' },
    ],
  };
  const snapshot = { apis: [api('a'), api('b')], plans: [plan], operations: [op('op_a1', 'a', [{ requests: 4, per: 'hour', shadow: false }, { requests: 2, per: 'second', id: 'b2' }]), op('op_b1', 'b')] };

  it('orders limits by scope, period, requests; writes shadow only when true; operation limits sorted', () => {
    const { config } = compile(snapshot, {});
    assert.deepEqual(config.plans[0], {
      id: 'pln_a', apiIds: ['a', 'b'], shadow: true, limits: [
        { requests: 10, per: 'minute' }, { requests: 100, per: 'day' },
        { requests: 7, per: 'second', id: 'z', apiId: 'a', operationId: 'op_a1' },
        { requests: 9, per: 'minute', apiId: 'b' },
        { requests: 3, per: 'minute', apiId: 'b', operationId: 'op_b1' },
      ],
    });
    assert.deepEqual(config.apis.find((a) => a.id === 'a')!.operations![0]!.limits, [{ requests: 2, per: 'second', id: 'b2' }, { requests: 4, per: 'hour' }]);
    // Input order does not change the bytes.
    const shuffled = { ...snapshot, plans: [{ ...plan, limits: [...plan.limits].reverse() }] };
    assert.equal(compile(shuffled, {}).json, compile(snapshot, {}).json);
  });

  it('a restricted target keeps only the limits of its APIs', () => {
    const target = { apiIds: ['a'], denyUnmatched: false, passPathForms: [] };
    const { config } = compile(snapshot, { target });
    assert.deepEqual(config.plans[0]!.limits, [{ requests: 10, per: 'minute' }, { requests: 100, per: 'day' }, { requests: 7, per: 'second', id: 'z', apiId: 'a', operationId: 'op_a1' }]);
    assert.deepEqual(config.plans[0]!.apiIds, ['a']);
  });

  it('a plan without the new fields and a target with the default header settings compile to the bytes of before (plus configVersion)', () => {
    const old = { apis: [api('a')], plans: [{ id: 'p', name: 'p', limits: [{ requests: 5, per: 'hour' as const }, { requests: 1, per: 'second' as const }], apiIds: ['a'], createdAt: 0, updatedAt: 0 }] };
    const compiled = compile(old, { target: { apiIds: [], denyUnmatched: false, passPathForms: [], rateLimitHeaderStyle: 'legacy', shadowHeader: null } });
    // configVersion (fleet status) is the one field every configuration gained: the SHA-256 of the bytes of before.
    const before = '{"apis":[{"id":"a","pathPrefix":"/a"}],"plans":[{"apiIds":["a"],"id":"p","limits":[{"per":"second","requests":1},{"per":"hour","requests":5}]}],"version":1}';
    const version = createHash('sha256').update(before).digest('hex');
    assert.equal(compiled.json, before.replace('"plans"', `"configVersion":"${version}","plans"`));
    assert.equal(compiled.version, version);
  });

  it('pure rules: every problem named, default ids per scope', () => {
    const problems = planLimitProblems([
      { requests: 1, per: 'minute', apiId: 'x' }, { requests: 1, per: 'minute', apiId: 'a', operationId: 'nope' }, { requests: 1, per: 'minute', apiId: 'a', operationId: 'nope' },
    ], ['a'], () => new Set(['op']));
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.deepEqual(sortLimits([{ requests: 1, per: 'day' }, { requests: 1, per: 'second' }]).map((l) => l.per), ['second', 'day']);
  });
});

/** Applies migrations 1..9 (the schema before composed limits) and stores a plan and a usage row as a store of then would. */
async function storeAtVersion9(url: string): Promise<void> {
  const statements = [
    "INSERT INTO apis (id, name, path_prefix, hosts, methods, created_at, updated_at) VALUES ('api_old0000000', 'old', '/old', '[]', '[]', 1, 1)",
    "INSERT INTO plans (id, name, limits, created_at, updated_at) VALUES ('pln_old0000000', 'gold', '[{\"requests\":5,\"per\":\"minute\"},{\"requests\":100,\"per\":\"day\"}]', 1, 1)",
    "INSERT INTO plan_apis VALUES ('pln_old0000000', 'api_old0000000')",
  ];
  await storeAtVersion(url, 9, statements);
}

describe('migration 010 (composed limits)', () => {
  it('an existing plan reads as before (shadow false, the same limits) and compiles to the same plan; it can take scoped limits after', async () => {
    const place = await testStoreUrl();
    try {
      await storeAtVersion9(place.url);
      const t = await testApp({ dbPath: place.url });
      try {
        const plan = (await t.admin('GET', '/v1/plans/pln_old0000000')).json<PlanV>();
        assert.equal(plan.shadow, false);
        assert.deepEqual(plan.limits, [{ requests: 5, per: 'minute' }, { requests: 100, per: 'day' }]);
        const target = (await t.admin('GET', '/v1/targets/default')).json<{ rateLimitHeaderStyle: string; shadowHeader: unknown }>();
        assert.equal(target.rateLimitHeaderStyle, 'legacy');
        assert.equal(target.shadowHeader, null);
        await t.app.distributor.flush();
        const config = t.app.distributor.current!.compiled.config;
        assert.deepEqual(config.plans, [{ id: 'pln_old0000000', apiIds: ['api_old0000000'], limits: [{ requests: 5, per: 'minute' }, { requests: 100, per: 'day' }] }]);
        assert.equal('rateLimitHeaderStyle' in config || 'shadowHeader' in config, false);
        const patched = await t.admin('PATCH', '/v1/plans/pln_old0000000', { limits: [...plan.limits, { requests: 2, per: 'second', apiId: 'api_old0000000', shadow: true }] });
        assert.equal(patched.statusCode, 200, patched.body);
      } finally {
        await t.close();
      }
    } finally {
      await place.dispose();
    }
  });
});
