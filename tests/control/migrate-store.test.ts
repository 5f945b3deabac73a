// `tollgate migrate-store`: a SQLite store moved into PostgreSQL serves the same state — the same REST answers and
// the same compiled configuration, byte for byte — and the command refuses a non-empty target and hides passwords.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../control/app.js';
import { run } from '../../control/migrate-store-cli.js';
import { defaultSettings } from '../../control/settings.js';
import { ADMIN, REPORT, batchId, currentMinute, tempDir } from './helpers.js';
import { createTestDatabase, pgUnavailable, type TestDatabase } from './postgres-fixture.js';

const unavailable = await pgUnavailable();

async function app(dir: string, dbPath: string): Promise<FastifyInstance> {
  const a = await buildApp({ ...defaultSettings(dir), dbPath, adminToken: ADMIN, reportToken: REPORT, logLevel: 'silent', distribution: [{ kind: 'local' }] });
  await a.ready();
  return a;
}
const get = async (a: FastifyInstance, url: string): Promise<string> => (await a.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}` } })).body;

async function captured(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => lines.push(a.join(' '));
  console.error = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    return { code: await fn(), out: lines.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

describe('tollgate migrate-store (SQLite → PostgreSQL)', { skip: unavailable ?? false }, () => {
  let dir: string;
  let db: TestDatabase;
  const sqlite = (): string => join(dir, 'store.db');
  before(async () => {
    dir = tempDir();
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves every table; the PostgreSQL store then answers exactly as the SQLite one did', async () => {
    const a = await app(dir, sqlite());
    const call = (method: 'POST' | 'PATCH', url: string, payload: object) => a.inject({ method, url, payload, headers: { authorization: `Bearer ${ADMIN}` } });
    const api = (await call('POST', '/v1/apis', { name: 'orders', pathPrefix: '/orders', methods: ['GET'] })).json<{ id: string }>();
    const plan = (await call('POST', '/v1/plans', { name: 'gold', limits: [{ requests: 10, per: 'hour' }], apiIds: [api.id] })).json<{ id: string }>();
    const consumer = (await call('POST', '/v1/consumers', { name: 'acme' })).json<{ id: string }>();
    const key = (await call('POST', `/v1/consumers/${consumer.id}/keys`, { planId: plan.id })).json<{ id: string }>();
    await call('POST', '/v1/targets', { name: 'shop', namespace: 'shop', apiIds: [api.id], denyUnmatched: true });
    const minute = currentMinute();
    const report = await a.inject({ method: 'POST', url: '/v1/usage/reports', headers: { authorization: `Bearer ${REPORT}` },
      payload: { version: 1, batchId: batchId(), reporter: '0123456789abcdef', dropped: 2, entries: [{ minute, keyId: key.id, apiId: api.id, outcome: 'allowed', count: 4, status: { '2xx': 4 } }] } });
    assert.equal(report.statusCode, 200);
    // The billing rows (migration 016) and credit balances (012) move too: the export and the account read the same.
    assert.equal((await a.inject({ method: 'PUT', url: `/v1/consumers/${consumer.id}/credits/${plan.id}`, payload: { balance: 100 }, headers: { authorization: `Bearer ${ADMIN}` } })).statusCode, 200);
    const hour = Math.floor(minute / 3600) * 3600;
    const exportPath = `/v1/usage/export?from=${new Date(hour * 1000).toISOString()}&to=${new Date((hour + 3600) * 1000).toISOString()}&granularity=hour&groupBy=consumer,plan,api&format=ndjson`;
    const paths = ['/v1/apis', '/v1/plans', `/v1/consumers/${consumer.id}/keys`, '/v1/targets', `/v1/usage?keyId=${key.id}&granularity=minute`, `/v1/usage?granularity=day`,
      exportPath, `/v1/consumers/${consumer.id}/credits`];
    const before = await Promise.all(paths.map((p) => get(a, p)));
    assert.match(before[6]!, new RegExp(`"consumer_id":"${consumer.id}"`), 'the export has the reported row');
    await a.distributor.flush();
    const version = a.distributor.current!.compiled.version;
    await a.close();

    const secretUrl = db.url.replace('postgres@', 'postgres:s3cr3t-pw@');
    const { code, out } = await captured(() => run(['--from', sqlite(), '--to', secretUrl]));
    assert.equal(code, 0, out);
    assert.match(out, /api_keys 1/);
    assert.doesNotMatch(out, /s3cr3t-pw/);

    const b = await app(dir, db.url);
    try {
      assert.deepEqual(await Promise.all(paths.map((p) => get(b, p))), before);
      await b.distributor.flush();
      assert.equal(b.distributor.current!.compiled.version, version, 'the same compiled configuration, byte for byte');
      const metrics = (await b.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /tollgate_usage_dropped_total 2/);
    } finally {
      await b.close();
    }
  });

  it('refuses a target that already holds a store, without writing anything, and needs its arguments', async () => {
    const { code, out } = await captured(() => run(['--from', sqlite(), '--to', db.url]));
    assert.equal(code, 2);
    assert.match(out, /not empty/);
    assert.equal((await captured(() => run(['--to', db.url]))).code, 2);
    assert.equal((await captured(() => run(['--from', sqlite(), '--to', '/not/a/url']))).code, 2);
  });
});
