// Shared fixtures for the control tests: a fresh app on a fresh store per test, with its log lines captured. The store
// is a SQLite file, or, when TOLLGATE_TEST_STORE=postgres (scripts/test.mjs runs tests/control a second time so), a
// new PostgreSQL database dropped again on close (postgres-fixture.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../control/app.js';
import { defaultSettings, type ControlSettings } from '../../control/settings.js';
import { createTestDatabase, ON_POSTGRES, type TestDatabase } from './postgres-fixture.js';

export { ON_POSTGRES, sqliteOnly, storedText } from './postgres-fixture.js';

export const ADMIN = 'test-admin-token-0123456789';
export const REPORT = 'test-report-token-0123456789';

export interface TestApp {
  app: FastifyInstance;
  dir: string;
  /** The SQLite file, or the PostgreSQL URL of this app's own database. */
  dbPath: string;
  logs: string[];
  admin(method: InjectOptions['method'], url: string, body?: unknown): Promise<LightMyRequestResponse>;
  report(method: InjectOptions['method'], url: string, body?: unknown): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tollgate-control-'));
}

/** A fresh place for a store on this run's backend (a SQLite file, or a new PostgreSQL database), for tests that open
 * the store or start the service themselves; dispose() removes it. */
export async function testStoreUrl(): Promise<{ url: string; dispose(): Promise<void> }> {
  const dir = tempDir();
  const database = ON_POSTGRES ? await createTestDatabase() : undefined;
  return {
    url: database?.url ?? join(dir, 'tollgate.db'),
    dispose: async () => {
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function testApp(overrides: Partial<ControlSettings> = {}): Promise<TestApp> {
  const dir = tempDir();
  // A caller that names its own SQLite file keeps it; otherwise the run's backend decides.
  const database: TestDatabase | undefined = ON_POSTGRES && overrides.dbPath === undefined ? await createTestDatabase() : undefined;
  const dbPath = database?.url ?? join(dir, 'tollgate.db');
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const settings: ControlSettings = {
    ...defaultSettings(dir), dbPath, adminToken: ADMIN, reportToken: REPORT, logLevel: 'trace', debounceMs: 10, ...overrides,
  };
  let app: FastifyInstance;
  try {
    app = await buildApp(settings, { logStream });
    await app.ready();
  } catch (err) {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const call = (token: string) => (method: InjectOptions['method'], url: string, body?: unknown) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as InjectOptions['payload'] }) });
  return {
    app, dir, dbPath, logs,
    admin: call(ADMIN),
    report: call(REPORT),
    close: async () => {
      try {
        await app.close();
      } finally {
        await database?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Creates api → plan → consumer → key; returns their ids and the plaintext key. */
export async function seed(t: TestApp, limits = [{ requests: 100, per: 'minute' }]): Promise<{ apiId: string; planId: string; consumerId: string; keyId: string; key: string }> {
  const api = (await t.admin('POST', '/v1/apis', { name: 'orders', pathPrefix: '/orders' })).json<{ id: string }>();
  const plan = (await t.admin('POST', '/v1/plans', { name: 'gold', limits, apiIds: [api.id] })).json<{ id: string }>();
  const consumer = (await t.admin('POST', '/v1/consumers', { name: 'acme' })).json<{ id: string }>();
  const key = (await t.admin('POST', `/v1/consumers/${consumer.id}/keys`, { planId: plan.id })).json<{ id: string; key: string }>();
  return { apiId: api.id, planId: plan.id, consumerId: consumer.id, keyId: key.id, key: key.key };
}

/** An admin call that must succeed (2xx); its JSON body. */
export async function adminOk<T>(t: TestApp, method: InjectOptions['method'], url: string, body?: unknown): Promise<T> {
  const r = await t.admin(method, url, body);
  assert.ok(r.statusCode >= 200 && r.statusCode < 300, `${method} ${url}: ${r.statusCode} ${r.body}`);
  return r.json<T>();
}

/**
 * Waits until this replica leads (on PostgreSQL leadership is an advisory lock taken shortly after start; only the
 * leader writes to shared sinks), then for its distribution.
 */
export async function leading(t: TestApp): Promise<void> {
  for (let i = 0; i < 200 && !t.app.distributor.isLeader; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(t.app.distributor.isLeader, true, 'became the leader');
  await t.app.distributor.flush();
}

let batchCounter = 0;
export function batchId(): string {
  batchCounter += 1;
  return (Date.now().toString(16) + batchCounter.toString(16).padStart(8, '0') + Math.random().toString(16).slice(2)).padEnd(32, '0').slice(0, 32);
}

export const currentMinute = (): number => Math.floor(Date.now() / 60_000) * 60;
