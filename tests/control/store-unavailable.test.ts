// A database that cannot be reached is a 503 problem with Retry-After (clients and proxies retry), not a 500.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isStoreUnavailable } from '../../control/store/unavailable.js';
import { testApp, type TestApp } from './helpers.js';

const err = (props: Record<string, unknown>, message = 'x'): Error => Object.assign(new Error(message), props);

describe('isStoreUnavailable', () => {
  it('knows socket errors, PostgreSQL connection and shutdown classes, and node-postgres\' own wording', () => {
    for (const e of [err({ code: 'ECONNREFUSED' }), err({ code: '57P01' }), err({ code: '08006' }), err({ code: '53300' }),
      err({}, 'Connection terminated unexpectedly'), err({}, 'timeout exceeded when trying to connect')]) {
      assert.equal(isStoreUnavailable(e), true, e.message + String((e as { code?: string }).code));
    }
    for (const e of [err({ code: '23505' }), err({ code: 'SQLITE_CONSTRAINT_UNIQUE' }), err({}, 'boom'), null, 'ECONNREFUSED']) {
      assert.equal(isStoreUnavailable(e), false, String(e));
    }
  });
});

describe('REST with the database unreachable', () => {
  let t: TestApp;
  before(async () => { t = await testApp(); });
  after(async () => t.close());

  it('answers 503 problem+json with Retry-After, for admin and proxy routes alike', async () => {
    const down = async (): Promise<never> => { throw err({ code: 'ECONNREFUSED' }, 'connect ECONNREFUSED 127.0.0.1:5432'); };
    const original = { list: t.app.store.apis.list, all: t.app.store.targets.all };
    t.app.store.apis.list = down;
    t.app.store.targets.all = down;
    try {
      const admin = await t.admin('GET', '/v1/apis');
      assert.equal(admin.statusCode, 503);
      assert.equal(admin.headers['retry-after'], '1');
      assert.match(admin.headers['content-type'] as string, /problem\+json/);
      assert.doesNotMatch(admin.body, /127\.0\.0\.1|5432/, 'no connection details in the reply');
      const report = await t.report('POST', '/v1/usage/reports', { version: 1, batchId: 'a'.repeat(32), reporter: 'b'.repeat(16), entries: [], dropped: 0 });
      assert.equal(report.statusCode, 503, 'a proxy keeps its batch and retries (5xx)');
    } finally {
      Object.assign(t.app.store.apis, { list: original.list });
      Object.assign(t.app.store.targets, { all: original.all });
    }
    assert.equal((await t.admin('GET', '/v1/apis')).statusCode, 200, 'back when the database is');
  });
});
