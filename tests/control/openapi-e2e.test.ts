// The 80-operation OpenAPI document end to end: imported over REST, compiled by the control service, enforced by the
// filter (build/tollgate.wasm on the Envoy-like host: 404/405 after the key check, costs spent against the plan's
// limit, a free operation), then a re-import that raises a cost replayed with `tollgate replay --policy` against the
// same recorded traffic, which names the requests whose decision changes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import type { FilterConfig } from '../../contracts/filter-config.js';
import { digestOf } from '../../control/key-material.js';
import { header, startHost, WASM_PATH, type Harness } from '../filter/harness.js';
import { ADMIN, testApp, type TestApp } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = readFileSync(new URL('../fixtures/openapi/github-subset.yaml', import.meta.url), 'utf8');
const LIMIT = 25;

interface Imported { api: { id: string }; operations: { id: string; operationId: string }[] }

/** The compiled configuration as a filter without a control service runs it: the key as a static key, no feed. */
function standalone(config: FilterConfig, key: string, keyId: string, consumerId: string, planId: string): FilterConfig {
  const { usage: _u, keyFeed: _k, ...rest } = config;
  return { ...rest, keys: [[digestOf(key), keyId, consumerId, config.plans.findIndex((p) => p.id === planId)]] };
}

describe('an imported OpenAPI document, enforced and replayed', () => {
  let t: TestApp;
  let h: Harness;
  let dir: string;
  let ids: { apiId: string; planId: string; consumerId: string; keyId: string; key: string };
  let current: FilterConfig;
  const importYaml = (text: string) => t.app.inject({ method: 'POST', url: '/v1/apis:import', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/yaml' }, payload: text });

  before(async () => {
    t = await testApp();
    dir = mkdtempSync(join(tmpdir(), 'tollgate-openapi-e2e-'));
    const imported = await importYaml(FIXTURE);
    assert.equal(imported.statusCode, 201, imported.body.slice(0, 500));
    const apiId = imported.json<Imported>().api.id;
    const plan = (await t.admin('POST', '/v1/plans', { name: 'dev', limits: [{ requests: LIMIT, per: 'minute' }], apiIds: [apiId] })).json<{ id: string }>();
    const consumer = (await t.admin('POST', '/v1/consumers', { name: 'octocat' })).json<{ id: string }>();
    const key = (await t.admin('POST', `/v1/consumers/${consumer.id}/keys`, { planId: plan.id })).json<{ id: string; key: string }>();
    ids = { apiId, planId: plan.id, consumerId: consumer.id, keyId: key.id, key: key.key };
    await t.app.distributor.flush();
    current = standalone(t.app.distributor.current!.compiled.config, key.key, key.id, consumer.id, plan.id);
    h = await startHost(current);
  });
  after(async () => {
    await h?.host.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (method: string, path: string, withKey = true) =>
    h.host.request({ method, path, headers: withKey ? { 'x-api-key': ids.key } : {} });

  it('the filter takes the compiled operations: known ones pass, unknown ones 404/405 only after the key check', async () => {
    assert.equal(current.apis.find((a) => a.id === ids.apiId)!.operations!.length, 80);
    assert.equal((await get('GET', '/github/repos/octo/hello')).status, 200);
    assert.equal((await get('GET', '/github/repos/octo/hello', false)).status, 401);
    assert.equal((await get('PUT', '/github/repos/octo/hello', false)).status, 401, 'no key: nothing told about the operation');
    const wrongMethod = await get('PUT', '/github/repos/octo/hello');
    assert.equal(wrongMethod.status, 405);
    assert.deepEqual(header(wrongMethod.headers, 'allow')?.split(', ').sort(), ['DELETE', 'GET', 'PATCH']);
    assert.equal((await get('GET', '/github/repos/octo/hello/no-such-thing')).status, 404);
    assert.equal((await get('GET', '/github/issues/1')).status, 404);
  });

  it('costs from x-tollgate are spent against the plan limit; cost 0 is never refused', async () => {
    await h.host.advance(60_000);
    // 25 units a minute; search costs 10 (path-item x-tollgate): two fit, the third is refused.
    assert.equal((await get('GET', '/github/search/repositories?q=tollgate')).status, 200);
    assert.equal((await get('GET', '/github/search/issues?q=bug')).status, 200);
    const third = await get('GET', '/github/search/repositories?q=again');
    assert.equal(third.status, 429);
    for (let i = 0; i < 10; i++) assert.equal((await get('GET', '/github/rate_limit')).status, 200, 'rate_limit costs 0');
    // 5 units left: five one-unit reads pass, the sixth is refused.
    for (let i = 0; i < 5; i++) assert.equal((await get('GET', `/github/users/u${i}`)).status, 200);
    assert.equal((await get('GET', '/github/users/u5')).status, 429);
  });

  it('a re-import that raises a cost, replayed against recorded traffic, shows the requests it would deny', async () => {
    const doc = parse(FIXTURE) as { info: { version: string }; paths: Record<string, Record<string, { 'x-tollgate'?: { cost: number } }>> };
    doc.info.version = '1.1.5';
    doc.paths['/repos/{owner}/{repo}']!.get!['x-tollgate'] = { cost: 20 };
    const dry = await t.app.inject({ method: 'POST', url: '/v1/apis:import?dryRun=true', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/yaml' }, payload: stringify(doc) });
    assert.deepEqual(dry.json<{ diff: { operations: { changed: { key: string; after: unknown }[] } } }>().diff.operations.changed.map((c) => [c.key, c.after]), [['repos/get', { cost: 20 }]]);
    const applied = await importYaml(stringify(doc));
    assert.equal(applied.statusCode, 200);
    await t.app.distributor.flush();
    const candidate = standalone(t.app.distributor.current!.compiled.config, ids.key, ids.keyId, ids.consumerId, ids.planId);
    const repoGet = applied.json<Imported>().operations.find((o) => o.operationId === 'repos/get')!.id;
    assert.equal(candidate.apis[0]!.operations!.find((o) => o.id === repoGet)!.cost, 20);

    writeFileSync(join(dir, 'current.json'), JSON.stringify(current));
    writeFileSync(join(dir, 'candidate.json'), JSON.stringify(candidate));
    // One minute of recorded traffic: two repository reads, then a user read.
    const traffic = [
      { method: 'GET', path: '/github/repos/octo/a', keyId: ids.keyId },
      { method: 'GET', path: '/github/repos/octo/b', keyId: ids.keyId },
      { method: 'GET', path: '/github/users/octocat', keyId: ids.keyId },
    ];
    writeFileSync(join(dir, 'traffic.jsonl'), `${traffic.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(root, 'bin/tollgate.mjs'), 'replay', '--wasm', fileURLToPath(WASM_PATH), '--config', join(dir, 'current.json'),
        '--policy', join(dir, 'candidate.json'), '--max-changed', '0', join(dir, 'traffic.jsonl')], { cwd: root, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }));
    });
    assert.equal(run.code, 1, `over --max-changed 0: ${run.stderr}`);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.at(-1)!.summary as { requests: number; changed: number; newlyDenied: number };
    // With cost 20 the first read spends 20 of the 25 units: the second (20 more) is denied; the user read (1) still fits.
    assert.deepEqual([summary.requests, summary.changed, summary.newlyDenied], [3, 1, 1], run.stdout);
    const changed = lines.filter((l) => 'line' in l).map((l) => [l.path, (l.current as { status: number }).status, (l.candidate as { status: number }).status]);
    assert.deepEqual(changed, [['/github/repos/octo/b', 200, 429]]);
  });
});
