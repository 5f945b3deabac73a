// `tollgate migrate-store` gives the PostgreSQL copy a new key-feed epoch: a proxy holding a revision of the SQLite
// history is told to take a snapshot (410), and the snapshot is the same set with the same digest.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { migrateStore } from '../../control/store/migrate-store.js';
import { createTestDatabase, pgUnavailable } from './postgres-fixture.js';
import { REPORT, seed, tempDir, testApp } from './helpers.js';
import { injectGet, takeSnapshot } from './key-feed-client.js';

const unavailable = await pgUnavailable();

describe('key feed across migrate-store', { skip: unavailable }, () => {
  it('the copy has a new epoch, the same keys and digest; the old epoch gets 410', async () => {
    const sqlitePath = join(tempDir(), 'tollgate.db');
    const src = await testApp({ dbPath: sqlitePath });
    const s = await seed(src);
    await src.admin('POST', '/v1/keys:bulkCreate', { consumerId: s.consumerId, planId: s.planId, count: 20 });
    await src.admin('POST', `/v1/keys/${s.keyId}/revoke`);
    const before = (await takeSnapshot(injectGet(src.app, REPORT))).mirror;
    await src.close();
    const db = await createTestDatabase();
    try {
      await migrateStore(sqlitePath, db.url);
      const dst = await testApp({ dbPath: db.url });
      try {
        const get = injectGet(dst.app, REPORT);
        const after = (await takeSnapshot(get)).mirror;
        assert.notEqual(after.epoch, before.epoch);
        assert.equal(after.revision, 0);
        assert.deepEqual([...after.keys.values()].sort(), [...before.keys.values()].sort());
        assert.equal(after.digest, before.digest);
        assert.equal((await get(`/v1/keyfeed/deltas?epoch=${before.epoch}&since=${before.revision}`)).statusCode, 410);
        assert.equal((await get(`/v1/keyfeed/deltas?epoch=${after.epoch}&since=0`)).statusCode, 200);
      } finally {
        await dst.close();
      }
    } finally {
      await db.drop();
    }
  });
});
