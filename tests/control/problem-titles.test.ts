// Finding 8: a problem of `type: about:blank` must carry the HTTP status phrase as its title (RFC 9457 §4.2.1);
// what went wrong goes in `detail`. Checked on replies from each path out: the not-found handler, schema validation,
// the service's own errors (cursor, unknown reference, token), and fastify's body errors (413, 415).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, testApp, type TestApp } from './helpers.js';

interface Problem { type: string; title: string; status: number; detail?: string }

describe('about:blank problems are titled with the status phrase', () => {
  let t: TestApp;
  before(async () => { t = await testApp(); });
  after(async () => t.close());

  const expectProblem = (res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, title: string): Problem => {
    assert.equal(res.statusCode, status, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const p = JSON.parse(res.body) as Problem;
    assert.deepEqual([p.type, p.title, p.status], ['about:blank', title, status], res.body);
    assert.ok(typeof p.detail === 'string' && p.detail.length > 0, 'the specifics are in detail');
    return p;
  };

  it('404 for an unknown route and an unknown id', async () => {
    expectProblem(await t.admin('GET', '/v1/nothing-here'), 404, 'Not Found');
    expectProblem(await t.admin('GET', '/v1/apis/api_missing000'), 404, 'Not Found');
  });

  it('400 for schema validation and for the service\'s own input checks', async () => {
    expectProblem(await t.admin('POST', '/v1/apis', { name: 'x', pathPrefix: '/x', colour: 'red' }), 400, 'Bad Request');
    expectProblem(await t.admin('GET', '/v1/apis?cursor=!!'), 400, 'Bad Request');
    expectProblem(await t.admin('GET', '/v1/apis?cursor=bm90LWEtY3Vyc29yIQ'), 400, 'Bad Request');
    expectProblem(await t.admin('GET', '/v1/usage?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z'), 400, 'Bad Request');
  });

  it('415 for a body that is not JSON, 413 for one too large', async () => {
    const text = await t.app.inject({ method: 'POST', url: '/v1/apis', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/plain' }, payload: 'name=x' });
    expectProblem(text, 415, 'Unsupported Media Type');
    const big = await t.admin('POST', '/v1/apis', { name: 'big', pathPrefix: `/${'a'.repeat(2 * 1024 * 1024)}` });
    expectProblem(big, 413, 'Content Too Large');
  });

  it('422 for a reference to nothing, 401 without a token', async () => {
    const consumer = (await t.admin('POST', '/v1/consumers', { name: 'acme' })).json<{ id: string }>();
    expectProblem(await t.admin('POST', `/v1/consumers/${consumer.id}/keys`, { planId: 'pln_missing000' }), 422, 'Unprocessable Content');
    expectProblem(await t.app.inject({ method: 'GET', url: '/v1/apis' }), 401, 'Unauthorized');
  });
});
