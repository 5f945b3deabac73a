import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdminApiError, type AdminClient } from '../../mesh/admin-client.js';
import { DEMO, seedDemo } from '../../mesh/seed.js';

function recordingAdmin(fail?: { path: string; status: number }) {
  const calls: Array<[string, string, unknown]> = [];
  let n = 0;
  const client: AdminClient = {
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      calls.push([method, path, body]);
      if (fail && path === fail.path) throw new AdminApiError(`${method} ${path} → ${fail.status}`, fail.status, undefined);
      n++;
      const id = `${path.split('/')[2]}_${n}`;
      return (path.endsWith('/keys') ? { id: `key_${n}`, key: 'tgk_plaintext' } : { id }) as T;
    },
  };
  return { client, calls };
}

describe('seeding the demo through the REST API', () => {
  it('creates API, plan, consumer and key in order, like a user would, and keeps only ids', async () => {
    const { client, calls } = recordingAdmin();
    const result = await seedDemo(client, new Date('2026-01-01T00:00:00Z'));
    assert.deepEqual(calls, [
      ['POST', '/v1/apis', { name: DEMO.apiName, pathPrefix: '/demo' }],
      ['POST', '/v1/plans', { name: DEMO.planName, limits: [{ requests: 5, per: 'minute' }], apiIds: ['apis_1'] }],
      ['POST', '/v1/consumers', { name: DEMO.consumerName }],
      ['POST', '/v1/consumers/consumers_3/keys', { planId: 'plans_2' }],
    ]);
    assert.equal(result.key, 'tgk_plaintext');
    assert.deepEqual(result.record, { apiId: 'apis_1', planId: 'plans_2', consumerId: 'consumers_3', keyId: 'key_4', seededAt: '2026-01-01T00:00:00.000Z' });
    assert.doesNotMatch(JSON.stringify(result.record), /tgk_/);
  });
  it('stops at the first refusal and reports it with its status (e.g. 409 when the demo already exists)', async () => {
    const { client, calls } = recordingAdmin({ path: '/v1/apis', status: 409 });
    await assert.rejects(seedDemo(client), (err: Error) => err instanceof AdminApiError && err.status === 409);
    assert.equal(calls.length, 1);
  });
});
