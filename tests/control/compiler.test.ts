import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { compile } from '../../control/compiler/compile.js';
import { canonicalJson } from '../../contracts/canonical-json.js';
import { digestOf } from '../../control/key-material.js';
import type { ApiOperation, CatalogApi, CatalogSnapshot, CompilableKey, Plan } from '../../control/store/types.js';
import { KEY_FEED_DELTAS_PATH, KEY_FEED_MAX_PAGE, KEY_FEED_MAX_WAIT_S, KEY_FEED_SNAPSHOT_PATH } from '../../contracts/key-feed.js';
import { NO_KEYS_MODES } from '../../contracts/filter-config.js';
import { ADMIN, seed, testApp } from './helpers.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/filter-config.v1.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true }).compile(schema);
const NOW = 1_790_000_000;
const usage = { cluster: 'outbound|7070||tollgate-control.tollgate.svc.cluster.local', authority: 'tollgate-control', intervalMs: 10_000, timeoutMs: 5_000, reportToken: 'tgr_test' };

const api = (id: string, pathPrefix: string, extra: Partial<CatalogApi> = {}): CatalogApi => ({ id, name: id, pathPrefix, hosts: [], methods: [], createdAt: 0, updatedAt: 0, ...extra });
const plan = (id: string, apiIds: string[], extra: Partial<Plan> = {}): Plan => ({ id, name: id, limits: [{ requests: 10, per: 'minute' }], apiIds, shadow: false, createdAt: 0, updatedAt: 0, ...extra });
const key = (id: string, planId: string, expiresAt: number | null = null): CompilableKey => ({ id, digest: digestOf(`secret-${id}`), consumerId: `con_${id}`, planId, expiresAt });

/** Policy plus keys, as a caller might pass them: the compiler must ignore the keys. */
type WithKeys = Omit<CatalogSnapshot, 'targets'> & { keys: CompilableKey[] };

function snapshot(): WithKeys {
  return {
    apis: [api('api_b', '/orders'), api('api_a', '/orders/admin', { methods: ['POST', 'GET'], hosts: ['z.example.com', 'a.example.com'] }), api('api_c', '/orders')],
    plans: [plan('pln_2', ['api_c', 'api_a'], { limits: [{ requests: 1000, per: 'day' }, { requests: 5, per: 'second' }] }), plan('pln_1', ['api_b'])],
    keys: [key('key_1', 'pln_1'), key('key_2', 'pln_2', NOW + 60), key('key_3', 'pln_1', NOW - 1)],
  };
}

const reversed = (s: WithKeys): WithKeys => ({ apis: [...s.apis].reverse(), plans: [...s.plans].reverse(), keys: [...s.keys].reverse() });

describe('compile', () => {
  it('produces a configuration valid against the filter-config schema', () => {
    const out = compile(snapshot(), { usage });
    assert.equal(validate(out.config), true, JSON.stringify(validate.errors));
    assert.equal(out.config.usage?.token, 'Bearer tgr_test');
    assert.equal(out.config.usage?.path, '/v1/usage/reports');
    assert.equal(out.json, canonicalJson(JSON.parse(out.json)));
    assert.match(out.version, /^[0-9a-f]{64}$/);
  });

  it('is deterministic: same state twice and any insertion order give the same bytes and version', () => {
    const a = compile(snapshot(), { usage });
    const b = compile(snapshot(), { usage });
    const c = compile(reversed(snapshot()), { usage });
    assert.equal(a.json, b.json);
    assert.equal(a.json, c.json);
    assert.equal(a.version, c.version);
    const changed = compile({ ...snapshot(), apis: snapshot().apis.slice(1) }, { usage });
    assert.notEqual(changed.version, a.version);
  });

  it('orders APIs longest prefix first then id, and sorts sets and plans', () => {
    const { config } = compile(snapshot(), { usage });
    assert.deepEqual(config.apis.map((a) => a.id), ['api_a', 'api_b', 'api_c']);
    assert.deepEqual(config.apis[0]!.methods, ['GET', 'POST']);
    assert.deepEqual(config.apis[0]!.hosts, ['a.example.com', 'z.example.com']);
    assert.equal(config.apis[1]!.methods, undefined);
    assert.deepEqual(config.plans.map((p) => p.id), ['pln_1', 'pln_2']);
    assert.deepEqual(config.plans[1]!.apiIds, ['api_a', 'api_c']);
    assert.deepEqual(config.plans[1]!.limits.map((l) => l.per), ['second', 'day']);
  });
});

function manyKeys(n: number): CompilableKey[] {
  const keys: CompilableKey[] = [];
  for (let i = 0; i < n; i++) keys.push({ id: `key_${i}`, digest: digestOf(`k${i}`), consumerId: `con_${i % 997}`, planId: i % 2 === 0 ? 'pln_1' : 'pln_2', expiresAt: i % 3 === 0 ? null : NOW + i });
  return keys;
}

/** A full store snapshot (keys included, as the distributor passes it) with `n` keys. */
const withKeys = (n: number): WithKeys => ({ ...snapshot(), keys: manyKeys(n) });

const op = (id: string, apiId: string, method: string, path: string, cost = 1): ApiOperation =>
  ({ id, apiId, key: id, operationId: null, method, path, cost, visibility: 'public', summary: null, position: 0, limits: [] });

describe('compile: operations', () => {
  const apis = [api('api_a', '/v1', { unknownOperation: 'pass' }), api('api_b', '/b', { unknownOperation: 'reject' }), api('api_c', '/c', { unknownOperation: 'pass' })];
  const operations = [
    op('op_3', 'api_a', 'POST', '/v1/repos/{owner}', 5), op('op_1', 'api_a', 'GET', '/v1/repos/{owner}'), op('op_2', 'api_a', 'DELETE', '/v1/repos/{owner}', 0),
    op('op_4', 'api_a', 'GET', '/v1/a/*'), op('op_5', 'api_b', 'GET', '/b/x'),
  ];

  it('emits operations sorted by path then method, cost only when not 1, unknownOperation only when pass; valid against the schema', () => {
    const { config } = compile({ apis, plans: [], operations }, { usage });
    assert.equal(validate(config), true, JSON.stringify(validate.errors));
    const a = config.apis.find((x) => x.id === 'api_a')!;
    assert.deepEqual(a.operations, [
      { id: 'op_4', method: 'GET', path: '/v1/a/*' },
      { id: 'op_2', method: 'DELETE', path: '/v1/repos/{owner}', cost: 0 },
      { id: 'op_1', method: 'GET', path: '/v1/repos/{owner}' },
      { id: 'op_3', method: 'POST', path: '/v1/repos/{owner}', cost: 5 },
    ]);
    assert.equal(a.unknownOperation, 'pass');
    const b = config.apis.find((x) => x.id === 'api_b')!;
    assert.deepEqual(b.operations, [{ id: 'op_5', method: 'GET', path: '/b/x' }]);
    assert.equal('unknownOperation' in b, false, 'reject is the default: not written');
  });

  it('an API without operations compiles as before (no operations, no unknownOperation, even when set to pass)', () => {
    const { config, json } = compile({ apis: [api('api_c', '/c', { unknownOperation: 'pass' })], plans: [], operations }, {});
    assert.deepEqual(config.apis, [{ id: 'api_c', pathPrefix: '/c' }]);
    assert.equal(json, compile({ apis: [api('api_c', '/c')], plans: [] }, {}).json);
  });

  it('gives the same bytes whatever order the operations were stored in, and a cost change moves the version', () => {
    const a = compile({ apis, plans: [], operations }, {});
    const b = compile({ apis: [...apis].reverse(), plans: [], operations: [...operations].reverse() }, {});
    assert.equal(a.json, b.json);
    const c = compile({ apis, plans: [], operations: operations.map((o) => (o.id === 'op_1' ? { ...o, cost: 2 } : o)) }, {});
    assert.notEqual(c.version, a.version);
  });

  it('leaves out an operation the filter could not reach (a method the API does not take, a path outside its prefix)', () => {
    const restricted = [api('api_m', '/m', { methods: ['GET'] }), api('api_p', '/p/')];
    const ops = [
      op('op_ok', 'api_m', 'GET', '/m/x'), op('op_post', 'api_m', 'POST', '/m/x'),
      op('op_in', 'api_p', 'GET', '/p/{id}'), op('op_out', 'api_p', 'GET', '/q/x'), op('op_short', 'api_p', 'GET', '/p'),
    ];
    const { config } = compile({ apis: restricted, plans: [], operations: ops }, {});
    assert.equal(validate({ ...config }), true, JSON.stringify(validate.errors));
    assert.deepEqual(config.apis.map((a) => [a.id, a.operations?.map((o) => o.id)]), [['api_p', ['op_in']], ['api_m', ['op_ok']]]);
  });

  it('restricted target: only the operations of its APIs', () => {
    const { config } = compile({ apis, plans: [], operations }, { target: { apiIds: ['api_b'], denyUnmatched: false, passPathForms: [] } });
    assert.deepEqual(config.apis.map((x) => x.operations?.map((o) => o.id)), [['op_5']]);
  });
});

describe('compile: keys stay out of the configuration (key feed)', () => {
  it('never writes keys; points the filter at the key feed with the defaults when usage is configured', () => {
    const { config, json } = compile(snapshot(), { usage });
    assert.equal('keys' in config, false);
    assert.equal(json.includes(snapshot().keys[0]!.digest), false);
    assert.deepEqual(config.keyFeed, { snapshotPath: KEY_FEED_SNAPSHOT_PATH, deltasPath: KEY_FEED_DELTAS_PATH, waitS: 25, pageKeys: 2000, retryMs: 2000 });
    assert.equal(validate(config), true, JSON.stringify(validate.errors));
  });

  it('gives the same bytes and version for 0, 1 thousand and 100 thousand keys', () => {
    const base = compile(withKeys(0), { usage });
    for (const n of [1000, 100_000]) {
      const out = compile(withKeys(n), { usage });
      assert.equal(out.json, base.json, `${n} keys`);
      assert.equal(out.version, base.version, `${n} keys`);
    }
    assert.ok(Buffer.byteLength(base.json) < 4096, `${Buffer.byteLength(base.json)} bytes`);
  });

  it('writes whenNoKeys only when it allows; the filter\'s default (deny) is left implicit', () => {
    assert.equal(compile(snapshot(), { usage, keyFeed: { whenNoKeys: 'allow' } }).config.keyFeed!.whenNoKeys, 'allow');
    const deny = compile(snapshot(), { usage, keyFeed: { whenNoKeys: 'deny' } });
    assert.equal('whenNoKeys' in deny.config.keyFeed!, false);
    assert.equal(deny.json, compile(snapshot(), { usage }).json, 'an explicit deny compiles to the same bytes as the default');
    const tuned = compile(snapshot(), { usage, keyFeed: { waitS: 5, pageKeys: 500, retryMs: 250, whenNoKeys: 'allow' } });
    assert.deepEqual(tuned.config.keyFeed, { snapshotPath: KEY_FEED_SNAPSHOT_PATH, deltasPath: KEY_FEED_DELTAS_PATH, waitS: 5, pageKeys: 500, retryMs: 250, whenNoKeys: 'allow' });
    assert.equal(validate(tuned.config), true, JSON.stringify(validate.errors));
  });

  it('the schema bounds the key feed as the contract does, and refuses a feed without usage or out of range', () => {
    const props = (schema as { properties: { keyFeed: { properties: Record<string, { maximum?: number; enum?: string[] }> } } }).properties.keyFeed.properties;
    assert.equal(props.waitS!.maximum, KEY_FEED_MAX_WAIT_S);
    assert.equal(props.pageKeys!.maximum, KEY_FEED_MAX_PAGE);
    assert.deepEqual(props.whenNoKeys!.enum, [...NO_KEYS_MODES]);
    const { config } = compile(snapshot(), { usage });
    const { usage: _u, ...noUsage } = config;
    assert.equal(validate(noUsage), false, 'keyFeed needs usage');
    for (const bad of [{ waitS: 31 }, { pageKeys: 0 }, { pageKeys: KEY_FEED_MAX_PAGE + 1 }, { retryMs: 50 }, { whenNoKeys: 'open' }, { extra: 1 }]) {
      assert.equal(validate({ ...config, keyFeed: { ...config.keyFeed, ...bad } }), false, JSON.stringify(bad));
    }
  });

  it('without a control service (no usage) there is neither usage nor a key feed, and the result is still valid', () => {
    const { config } = compile(snapshot(), {});
    assert.equal(config.usage, undefined);
    assert.equal(config.keyFeed, undefined);
    assert.equal('keys' in config, false);
    assert.equal(validate(config), true, JSON.stringify(validate.errors));
  });
});

describe('compile from the store', () => {
  it('keeps the same version and bytes while keys are created, rotated and revoked; a policy change moves it', async () => {
    const t = await testApp();
    try {
      const s = await seed(t);
      await t.app.distributor.flush();
      const before = t.app.distributor.current!.compiled;
      assert.equal('keys' in before.config, false);
      assert.ok(before.config.keyFeed !== undefined);
      assert.equal((await t.admin('POST', `/v1/consumers/${s.consumerId}/keys`, { planId: s.planId })).statusCode, 201);
      assert.equal((await t.admin('POST', `/v1/keys/${s.keyId}/rotate`, { gracePeriodSeconds: 300 })).statusCode, 201);
      const successor = (await t.admin('GET', `/v1/keys/${s.keyId}`)).json<{ replacedBy: string }>().replacedBy;
      assert.equal((await t.admin('POST', `/v1/keys/${successor}/revoke`)).statusCode, 200);
      await t.app.distributor.flush();
      const after = t.app.distributor.current!.compiled;
      assert.equal(after.version, before.version);
      assert.equal(after.json, before.json);
      await t.admin('POST', '/v1/apis', { name: 'more', pathPrefix: '/more' });
      await t.app.distributor.flush();
      assert.notEqual(t.app.distributor.current!.compiled.version, before.version);
      assert.equal(validate(t.app.distributor.current!.compiled.config), true);
    } finally {
      await t.close();
    }
  });
  it('an imported API reaches the compiled configuration with its operations; a re-import that changes a cost redistributes', async () => {
    const t = await testApp();
    try {
      const doc = (cost: number): string => JSON.stringify({
        openapi: '3.1.0', info: { title: 'Shop', version: '1' }, servers: [{ url: 'https://shop.example.com/shop/v1' }],
        'x-tollgate': { unknownOperation: 'pass' },
        paths: {
          '/orders/{id}': { get: { operationId: 'getOrder', responses: { 200: { description: 'ok' } } } },
          '/orders': { post: { operationId: 'createOrder', 'x-tollgate': { cost }, responses: { 201: { description: 'ok' } } } },
        },
      });
      const call = (body: string) => t.app.inject({ method: 'POST', url: '/v1/apis:import', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, payload: body });
      const first = await call(doc(3));
      assert.equal(first.statusCode, 201, first.body);
      const apiId = first.json<{ api: { id: string } }>().api.id;
      const ids = Object.fromEntries(first.json<{ operations: { id: string; operationId: string }[] }>().operations.map((o) => [o.operationId, o.id]));
      await t.app.distributor.flush();
      const compiled = t.app.distributor.current!.compiled;
      assert.equal(validate(compiled.config), true, JSON.stringify(validate.errors));
      assert.deepEqual(compiled.config.apis.find((a) => a.id === apiId), {
        id: apiId, pathPrefix: '/shop/v1', unknownOperation: 'pass',
        operations: [
          { id: ids.createOrder, method: 'POST', path: '/shop/v1/orders', cost: 3 },
          { id: ids.getOrder, method: 'GET', path: '/shop/v1/orders/{id}' },
        ],
      });
      assert.equal((await call(doc(4))).statusCode, 200);
      await t.app.distributor.flush();
      const after = t.app.distributor.current!.compiled;
      assert.notEqual(after.version, compiled.version);
      assert.equal(after.config.apis.find((a) => a.id === apiId)!.operations!.find((o) => o.id === ids.createOrder)!.cost, 4);
    } finally {
      await t.close();
    }
  });
});
