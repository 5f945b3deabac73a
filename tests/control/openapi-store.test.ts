// Migration 008 and the store around the OpenAPI import: a store from before operations upgrades with its APIs
// unchanged (no operations, compiled as before), on the run's backend; `tollgate migrate-store` carries operations
// over with their ids.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrateStore } from '../../control/store/migrate-store.js';
import { ADMIN, ON_POSTGRES, tempDir, testApp, testStoreUrl } from './helpers.js';
import { storeAtVersion } from './old-store.js';
import { createTestDatabase, pgUnavailable } from './postgres-fixture.js';

const GITHUB = readFileSync(new URL('../fixtures/openapi/github-subset.yaml', import.meta.url));

/** A store of the schema before operations (migrations 1..7) holding one API in a plan. */
async function storeAtVersion7(url: string): Promise<void> {
  await storeAtVersion(url, 7, [
    "INSERT INTO apis VALUES ('api_old0000000', 'old', '/old', '[]', '[\"GET\"]', 1, 1)",
    "INSERT INTO plans VALUES ('pln_old0000000', 'gold', '[{\"requests\":5,\"per\":\"minute\"}]', 1, 1)",
    "INSERT INTO plan_apis VALUES ('pln_old0000000', 'api_old0000000')",
  ]);
}

describe('migration 008 (API operations)', () => {
  it('an existing API keeps no operations, reads with the defaults and compiles exactly as before', async () => {
    const place = await testStoreUrl();
    try {
      await storeAtVersion7(place.url);
      const t = await testApp({ dbPath: place.url });
      try {
        const api = (await t.admin('GET', '/v1/apis/api_old0000000')).json<Record<string, unknown>>();
        assert.equal(api.unknownOperation, 'reject');
        assert.equal(api.importedFrom, null);
        assert.equal(api.operationCount, 0);
        assert.deepEqual(api.methods, ['GET']);
        assert.deepEqual((await t.admin('GET', '/v1/apis/api_old0000000/operations')).json(), { items: [], nextCursor: null });
        await t.app.distributor.flush();
        assert.deepEqual(t.app.distributor.current!.compiled.config.apis, [{ id: 'api_old0000000', pathPrefix: '/old', methods: ['GET'] }]);
        // And it can take operations now, in place (its plan still lists it): those of its methods only (GET), so the
        // document's other methods are refused until its methods are widened.
        const importInto = () => t.app.inject({ method: 'POST', url: '/v1/apis:import?apiId=api_old0000000', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/yaml' }, payload: GITHUB });
        const narrow = await importInto();
        assert.equal(narrow.statusCode, 422);
        assert.match(narrow.json<{ detail: string }>().detail, /takes only GET requests/);
        assert.equal((await t.admin('PATCH', '/v1/apis/api_old0000000', { methods: [] })).statusCode, 200);
        const res = await importInto();
        assert.equal(res.statusCode, 200, res.body.slice(0, 500));
        assert.equal((await t.admin('GET', '/v1/plans/pln_old0000000')).json<{ apiIds: string[] }>().apiIds[0], 'api_old0000000');
        await t.app.distributor.flush();
        const upgraded = t.app.distributor.current!.compiled.config;
        assert.equal(upgraded.apis[0]!.operations?.length, 80);
      } finally {
        await t.close();
      }
    } finally {
      await place.dispose();
    }
  });
});

const unavailable = ON_POSTGRES ? 'runs once, on the SQLite run' : await pgUnavailable();

describe('migrate-store carries operations over', { skip: unavailable }, () => {
  it('the PostgreSQL copy has the same operations with the same ids, and a re-import there finds them unchanged', async () => {
    const sqlitePath = join(tempDir(), 'tollgate.db');
    const src = await testApp({ dbPath: sqlitePath });
    const send = (t: typeof src) => t.app.inject({ method: 'POST', url: '/v1/apis:import', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/yaml' }, payload: GITHUB });
    const first = (await send(src)).json<{ api: { id: string }; operations: unknown[] }>();
    await src.close();
    const db = await createTestDatabase();
    try {
      const result = await migrateStore(sqlitePath, db.url);
      assert.equal(result.rows.api_operations, 80);
      const dst = await testApp({ dbPath: db.url });
      try {
        const again = (await send(dst)).json<{ api: { id: string }; operations: unknown[]; diff: { api: string } }>();
        assert.equal(again.diff.api, 'unchanged');
        assert.equal(again.api.id, first.api.id);
        assert.deepEqual(again.operations, first.operations);
      } finally {
        await dst.close();
      }
    } finally {
      await db.drop();
    }
  });
});
