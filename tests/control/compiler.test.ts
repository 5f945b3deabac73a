import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { compile } from '../../control/compiler/compile.js';
import { canonicalJson } from '../../contracts/canonical-json.js';
import { digestOf, newApiKey, newId } from '../../control/key-material.js';
import type { Api, CatalogSnapshot, CompilableKey, Plan } from '../../control/store/types.js';
import { seed, testApp } from './helpers.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/filter-config.v1.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true }).compile(schema);
const NOW = 1_790_000_000;
const usage = { cluster: 'outbound|7070||tollgate-control.tollgate.svc.cluster.local', authority: 'tollgate-control', intervalMs: 10_000, timeoutMs: 5_000, reportToken: 'tgr_test' };

const api = (id: string, pathPrefix: string, extra: Partial<Api> = {}): Api => ({ id, name: id, pathPrefix, hosts: [], methods: [], createdAt: 0, updatedAt: 0, ...extra });
const plan = (id: string, apiIds: string[], extra: Partial<Plan> = {}): Plan => ({ id, name: id, limits: [{ requests: 10, per: 'minute' }], apiIds, createdAt: 0, updatedAt: 0, ...extra });
const key = (id: string, planId: string, expiresAt: number | null = null): CompilableKey => ({ id, digest: digestOf(`secret-${id}`), consumerId: `con_${id}`, planId, expiresAt });

function snapshot(): Omit<CatalogSnapshot, 'targets'> {
  return {
    apis: [api('api_b', '/orders'), api('api_a', '/orders/admin', { methods: ['POST', 'GET'], hosts: ['z.example.com', 'a.example.com'] }), api('api_c', '/orders')],
    plans: [plan('pln_2', ['api_c', 'api_a'], { limits: [{ requests: 1000, per: 'day' }, { requests: 5, per: 'second' }] }), plan('pln_1', ['api_b'])],
    keys: [key('key_1', 'pln_1'), key('key_2', 'pln_2', NOW + 60), key('key_3', 'pln_1', NOW - 1)],
  };
}

const reversed = (s: Omit<CatalogSnapshot, 'targets'>): Omit<CatalogSnapshot, 'targets'> => ({ apis: [...s.apis].reverse(), plans: [...s.plans].reverse(), keys: [...s.keys].reverse() });

describe('compile', () => {
  it('produces a configuration valid against the filter-config schema', () => {
    const out = compile(snapshot(), { now: NOW, usage });
    assert.equal(validate(out.config), true, JSON.stringify(validate.errors));
    assert.equal(out.config.usage?.token, 'Bearer tgr_test');
    assert.equal(out.config.usage?.path, '/v1/usage/reports');
    assert.equal(out.json, canonicalJson(JSON.parse(out.json)));
    assert.match(out.version, /^[0-9a-f]{64}$/);
  });

  it('is deterministic: same state twice and any insertion order give the same bytes and version', () => {
    const a = compile(snapshot(), { now: NOW, usage });
    const b = compile(snapshot(), { now: NOW, usage });
    const c = compile(reversed(snapshot()), { now: NOW, usage });
    assert.equal(a.json, b.json);
    assert.equal(a.json, c.json);
    assert.equal(a.version, c.version);
    const changed = compile({ ...snapshot(), keys: snapshot().keys.slice(1) }, { now: NOW, usage });
    assert.notEqual(changed.version, a.version);
  });

  it('orders APIs longest prefix first then id, sorts sets, and indexes plans', () => {
    const { config } = compile(snapshot(), { now: NOW, usage });
    assert.deepEqual(config.apis.map((a) => a.id), ['api_a', 'api_b', 'api_c']);
    assert.deepEqual(config.apis[0]!.methods, ['GET', 'POST']);
    assert.deepEqual(config.apis[0]!.hosts, ['a.example.com', 'z.example.com']);
    assert.equal(config.apis[1]!.methods, undefined);
    assert.deepEqual(config.plans.map((p) => p.id), ['pln_1', 'pln_2']);
    assert.deepEqual(config.plans[1]!.apiIds, ['api_a', 'api_c']);
    assert.deepEqual(config.plans[1]!.limits.map((l) => l.per), ['second', 'day']);
    const k2 = config.keys!.find((k) => k[1] === 'key_2')!;
    assert.equal(k2[3], 1);
    assert.equal(k2[4], NOW + 60);
    assert.equal(config.keys!.find((k) => k[1] === 'key_1')!.length, 4);
  });

  it('leaves out expired keys', () => {
    const { config } = compile(snapshot(), { now: NOW, usage });
    assert.equal(config.keys!.some((k) => k[1] === 'key_3'), false);
  });

  it('keeps 10,000 keys, each with its own consumer and an expiry, under 1 MiB', () => {
    const keys: CompilableKey[] = [];
    for (let i = 0; i < 10_000; i++) {
      keys.push({ id: newId('key'), digest: newApiKey().digest, consumerId: newId('con'), planId: 'pln_AAAAAAAAAA', expiresAt: 4_102_444_800 });
    }
    const out = compile({ apis: [api('api_AAAAAAAAAA', '/')], plans: [plan('pln_AAAAAAAAAA', ['api_AAAAAAAAAA'])], keys }, { now: NOW, usage });
    const bytes = Buffer.byteLength(out.json);
    assert.ok(bytes < 1024 * 1024, `${bytes} bytes`);
    assert.equal(out.config.keys!.length, 10_000);
    assert.equal(validate(out.config), true);
  });
});

describe('compile from the store', () => {
  it('drops revoked keys, ships a rotated predecessor with its grace end, and recompiles after changes', async () => {
    const t = await testApp();
    try {
      const s = await seed(t);
      await t.app.distributor.flush();
      const before = t.app.distributor.current!.compiled;
      assert.equal(before.config.keys!.length, 1);
      const successor = (await t.admin('POST', `/v1/keys/${s.keyId}/rotate`, { gracePeriodSeconds: 300 })).json<{ id: string }>();
      await t.app.distributor.flush();
      const rotated = t.app.distributor.current!.compiled;
      assert.notEqual(rotated.version, before.version);
      const old = rotated.config.keys!.find((k) => k[1] === s.keyId)!;
      assert.ok(old[4]! > Date.now() / 1000 + 200 && old[4]! <= Date.now() / 1000 + 300);
      assert.ok(rotated.config.keys!.some((k) => k[1] === successor.id));
      await t.admin('POST', `/v1/keys/${s.keyId}/revoke`);
      await t.app.distributor.flush();
      const after = t.app.distributor.current!.compiled;
      assert.deepEqual(after.config.keys!.map((k) => k[1]), [successor.id]);
      assert.equal(validate(after.config), true);
    } finally {
      await t.close();
    }
  });
});
