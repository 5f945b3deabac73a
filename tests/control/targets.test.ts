// Targets over REST: placement, what each covers (apiIds), deny-unmatched and pass-through path forms in the compiled
// configuration, the default target's rules, and a deleted target's WasmPlugin withdrawn from the sinks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { seed, tempDir, testApp, type TestApp } from './helpers.js';

interface TargetBody { id: string; name: string; namespace: string; apiIds: string[]; denyUnmatched: boolean; passPathForms: string[]; reportToken?: string }

describe('/v1/targets', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  let gitops: string;
  before(async () => {
    gitops = join(tempDir(), 'gitops');
    t = await testApp({ distribution: [{ kind: 'dir', path: gitops }] });
    s = await seed(t);
  });
  after(async () => {
    await t.close();
    rmSync(join(gitops, '..'), { recursive: true, force: true });
  });

  it('lists the default target, placed by the settings, without credentials', async () => {
    const list = await t.admin('GET', '/v1/targets');
    assert.equal(list.statusCode, 200);
    const items = list.json<{ items: TargetBody[] }>().items;
    assert.deepEqual(items.map((i) => [i.id, i.name, i.namespace]), [['default', 'tollgate', 'default']]);
    assert.equal(list.body.includes('tgr_') || list.body.includes('test-report-token'), false);
  });

  it('sets deny-unmatched and pass-through path forms on the default target, and the compiled configuration carries them', async () => {
    const res = await t.admin('PATCH', '/v1/targets/default', { denyUnmatched: true, passPathForms: ['asterisk'] });
    assert.equal(res.statusCode, 200, res.body);
    await t.app.distributor.flush();
    const config = t.app.distributor.current!.compiled.config;
    assert.equal(config.denyUnmatched, true);
    assert.deepEqual(config.passPathForms, ['asterisk']);
    await t.admin('PATCH', '/v1/targets/default', { denyUnmatched: false, passPathForms: [] });
    await t.app.distributor.flush();
    assert.equal('denyUnmatched' in t.app.distributor.current!.compiled.config, false, 'defaults are left out');
  });

  it('refuses to move the default target or delete it, with problem+json', async () => {
    const move = await t.admin('PATCH', '/v1/targets/default', { namespace: 'elsewhere' });
    assert.equal(move.statusCode, 409);
    assert.match(move.headers['content-type'] as string, /problem\+json/);
    assert.equal((await t.admin('DELETE', '/v1/targets/default')).statusCode, 409);
  });

  it('validates input: names, unknown APIs, both selector and targetRefs, unknown fields', async () => {
    const bad = [
      { name: 'Not_A_Name', namespace: 'shop' },
      { name: 'ok', namespace: 'shop', apiIds: ['api_missing'] },
      { name: 'ok', namespace: 'shop', selector: { app: 'x' }, targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }] },
      { name: 'ok', namespace: 'shop', passPathForms: ['absolute'] },
      { name: 'ok', namespace: 'shop', colour: 'red' },
    ];
    const codes = [];
    for (const body of bad) codes.push((await t.admin('POST', '/v1/targets', body)).statusCode);
    // Both selector and targetRefs: a placement no kind can express, 422 like every other (resource-kinds-service.test.ts).
    assert.deepEqual(codes, [400, 422, 422, 400, 400]);
    assert.equal((await t.admin('POST', '/v1/targets', { name: 'tollgate', namespace: 'other' })).statusCode, 409, 'names are unique');
  });

  it('creates a target with its own WasmPlugin and credential (shown once), and withdraws it when deleted', async () => {
    const created = await t.admin('POST', '/v1/targets', { name: 'tollgate-shop', namespace: 'shop', selector: { app: 'shop' }, apiIds: [s.apiId] });
    assert.equal(created.statusCode, 201, created.body);
    const target = created.json<TargetBody>();
    assert.match(target.reportToken!, /^tgr_/);
    assert.notEqual(target.reportToken, t.app.defaultTarget.reportToken);
    assert.equal((await t.admin('GET', `/v1/targets/${target.id}`)).body.includes(target.reportToken!), false);
    await t.app.distributor.flush();
    const file = join(gitops, 'wasmplugin-tollgate-shop.yaml');
    const plugin = parse(readFileSync(file, 'utf8')) as { metadata: { namespace: string }; spec: { selector: unknown; pluginConfig: { usage?: { token: string } } } };
    assert.equal(plugin.metadata.namespace, 'shop');
    assert.deepEqual(plugin.spec.selector, { matchLabels: { app: 'shop' } });
    assert.equal(plugin.spec.pluginConfig.usage?.token, `Bearer ${target.reportToken}`);
    assert.ok(existsSync(join(gitops, 'wasmplugin-tollgate.yaml')), 'the default target is still there');
    assert.equal((await t.admin('DELETE', `/v1/targets/${target.id}`)).statusCode, 204);
    await t.app.distributor.flush();
    assert.equal(existsSync(file), false, 'withdrawn from the GitOps directory');
    const report = await t.app.inject({ method: 'POST', url: '/v1/usage/reports', headers: { authorization: `Bearer ${target.reportToken}` }, payload: { version: 1, batchId: 'a'.repeat(32), reporter: 'b'.repeat(16), entries: [], dropped: 0 } });
    assert.equal(report.statusCode, 401, 'a deleted target\'s credential is refused');
  });
});
