import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startControl, type RunningControl } from '../../control/server.js';
import { ADMIN, REPORT, tempDir } from './helpers.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

interface Published { version: string; wasmPlugin: { kind: string; spec: { pluginConfig: { apis: { id: string }[]; usage: { token: string } } } } }

describe('local distribution contract (real HTTP)', () => {
  let c: RunningControl;
  let dir: string;
  const rt = { authorization: `Bearer ${REPORT}` };
  const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  before(async () => {
    dir = tempDir();
    c = await startControl({ dbPath: join(dir, 'db.sqlite'), adminToken: ADMIN, reportToken: REPORT, distribution: [{ kind: 'local' }], logLevel: 'silent', debounceMs: 20 });
  });
  after(async () => {
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const poll = (query: string, headers: Record<string, string> = rt): Promise<Response> => fetch(`${c.url}/v1/distribution/wasmplugin${query}`, { headers });
  const ack = (body: unknown): Promise<Response> => fetch(`${c.url}/v1/distribution/acks`, { method: 'POST', headers: { ...rt, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('requires the report token', async () => {
    assert.equal((await poll('', {})).status, 401);
    assert.equal((await poll('', { authorization: `Bearer ${ADMIN}` })).status, 401);
    assert.equal((await fetch(`${c.url}/v1/distribution/acks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 401);
  });

  it('answers 200 {version, wasmPlugin} at once for an unknown version', async () => {
    const res = await poll('?known=something-old&waitSeconds=30');
    assert.equal(res.status, 200);
    const body = (await res.json()) as Published;
    assert.equal(body.wasmPlugin.kind, 'WasmPlugin');
    assert.equal(body.wasmPlugin.spec.pluginConfig.usage.token, `Bearer ${REPORT}`);
  });

  it('answers 304 with no body when nothing changed within waitSeconds', async () => {
    const { version } = (await (await poll('')).json()) as Published;
    const res = await poll(`?known=${version}&waitSeconds=0`);
    assert.equal(res.status, 304);
    assert.equal(await res.text(), '');
    const held = await poll(`?known=${version}&waitSeconds=1`);
    assert.equal(held.status, 304);
  });

  it('releases a held poll with the new version when the store changes', async () => {
    const { version } = (await (await poll('')).json()) as Published;
    const held = poll(`?known=${version}&waitSeconds=30`);
    const waiters = (c.app.local as unknown as { waiters: Set<unknown> }).waiters;
    for (let i = 0; i < 250 && waiters.size === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(waiters.size, 1, 'the poll is held');
    const created = await fetch(`${c.url}/v1/apis`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'orders', pathPrefix: '/orders' }) });
    assert.equal(created.status, 201);
    const res = await held;
    assert.equal(res.status, 200);
    const body = (await res.json()) as Published;
    assert.notEqual(body.version, version);
    assert.deepEqual(body.wasmPlugin.spec.pluginConfig.apis.map((a) => a.id), [((await created.json()) as { id: string }).id]);
  });

  it('a key write releases no held poll: the WasmPlugin carries the key feed, not keys', async () => {
    const api = (await (await fetch(`${c.url}/v1/apis`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'feed', pathPrefix: '/feed' }) })).json()) as { id: string };
    const plan = (await (await fetch(`${c.url}/v1/plans`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'p', limits: [], apiIds: [api.id] }) })).json()) as { id: string };
    const consumer = (await (await fetch(`${c.url}/v1/consumers`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'c' }) })).json()) as { id: string };
    await c.app.distributor.flush();
    const current = (await (await poll('')).json()) as Published & { wasmPlugin: { spec: { pluginConfig: { keys?: unknown; keyFeed?: { deltasPath: string } } } } };
    assert.equal(current.wasmPlugin.spec.pluginConfig.keys, undefined);
    assert.equal(current.wasmPlugin.spec.pluginConfig.keyFeed?.deltasPath, '/v1/keyfeed/deltas');
    const held = poll(`?known=${current.version}&waitSeconds=2`);
    const key = await fetch(`${c.url}/v1/consumers/${consumer.id}/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ planId: plan.id }) });
    assert.equal(key.status, 201);
    const { id } = (await key.json()) as { id: string };
    assert.equal((await fetch(`${c.url}/v1/keys/${id}/revoke`, { method: 'POST', headers: admin })).status, 200);
    await c.app.distributor.flush();
    assert.equal((await held).status, 304, 'the poll ran its full hold: no new version');
  });

  it('validates the query and the ack body', async () => {
    assert.equal((await poll('?waitSeconds=31')).status, 400);
    assert.equal((await poll('?waitSeconds=-1')).status, 400);
    assert.equal((await poll('?other=1')).status, 400);
    assert.equal((await ack({ proxy: 'p', version: 'v', status: 'maybe' })).status, 400);
    assert.equal((await ack({ proxy: 'p', version: 'v', status: 'applied', extra: 1 })).status, 400);
    assert.equal((await ack({ version: 'v', status: 'applied' })).status, 400);
  });

  it('gates /readyz on a fresh healthy applied ack of the current version and shows acks', async () => {
    const { version } = (await (await poll('')).json()) as Published;
    // A rejected ack for the current version first: not ready, and the problem says why.
    assert.equal((await ack({ proxy: 'sidecar-1', version, status: 'rejected', message: 'bad config' })).status, 204);
    let ready = await fetch(`${c.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(ready.headers.get('content-type')!, /problem\+json/);
    assert.match(((await ready.json()) as { detail: string }).detail, /rejected/);

    await ack({ proxy: 'sidecar-1', version, status: 'applied', upstreamHealthy: false });
    ready = await fetch(`${c.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { detail: string }).detail, /upstream/);

    await ack({ proxy: 'sidecar-1', version: 'an-old-version', status: 'applied', upstreamHealthy: true });
    ready = await fetch(`${c.url}/readyz`);
    assert.equal(ready.status, 503);

    assert.equal((await ack({ proxy: 'sidecar-1', version, status: 'applied', upstreamHealthy: true })).status, 204);
    ready = await fetch(`${c.url}/readyz`);
    assert.equal(ready.status, 200);

    const view = (await (await fetch(`${c.url}/v1/distribution`, { headers: admin })).json()) as { version: string; acks: { proxy: string; version: string; status: string; receivedAt: string }[]; targets: { target: string; version: string }[] };
    assert.equal(view.version, version);
    assert.equal(view.acks[0]!.proxy, 'sidecar-1');
    assert.equal(view.acks[0]!.status, 'applied');
    assert.equal(view.targets[0]!.target, 'local');
    assert.equal(view.targets[0]!.version, version);

    // A change makes the ack stale: not ready until the proxy acknowledges the new version.
    await fetch(`${c.url}/v1/consumers`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'acme' }) });
    await fetch(`${c.url}/v1/apis`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'billing', pathPrefix: '/billing' }) });
    await c.app.distributor.flush();
    assert.equal((await fetch(`${c.url}/readyz`)).status, 503);
  });

  it('reports readiness from the store alone when local mode is off', async () => {
    const d = tempDir();
    const other = await startControl({ dbPath: join(d, 'db.sqlite'), adminToken: ADMIN, reportToken: REPORT, logLevel: 'silent' });
    try {
      assert.equal((await fetch(`${other.url}/readyz`)).status, 200);
      assert.equal((await fetch(`${other.url}/v1/distribution/wasmplugin`, { headers: rt })).status, 503);
    } finally {
      await other.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('shuts down promptly while a poll is held', async () => {
    const d = tempDir();
    const other = await startControl({ dbPath: join(d, 'db.sqlite'), reportToken: REPORT, distribution: [{ kind: 'local' }], logLevel: 'silent' });
    try {
      const { version } = (await (await fetch(`${other.url}/v1/distribution/wasmplugin`, { headers: rt })).json()) as Published;
      const held = fetch(`${other.url}/v1/distribution/wasmplugin?known=${version}&waitSeconds=30`, { headers: rt });
      const waiters = (other.app.local as unknown as { waiters: Set<unknown> }).waiters;
      for (let i = 0; i < 250 && waiters.size === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(waiters.size, 1, 'the poll is held');
      const closing = other.close();
      const res = await held;
      assert.equal(res.status, 304);
      await closing;
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('a held poll whose client goes away', () => {
  it('is released (no waiter left behind)', async () => {
    const { LocalTarget } = await import('../../control/distribution/targets/local.js');
    const local = new LocalTarget();
    await local.publish({} as never, 'v1', 'default');
    const gone = new AbortController();
    const waiting = local.next('default', 'v1', 30_000, gone.signal);
    gone.abort();
    assert.equal(await waiting, undefined);
    assert.equal((local as unknown as { waiters: Set<unknown> }).waiters.size, 0);
  });
});

describe('a long-poll client that disconnects (real HTTP)', () => {
  it('frees its waiter on the server', async () => {
    const d = tempDir();
    const c = await startControl({ dbPath: join(d, 'db.sqlite'), reportToken: REPORT, distribution: [{ kind: 'local' }], logLevel: 'silent' });
    try {
      const headers = { authorization: `Bearer ${REPORT}` };
      const { version } = (await (await fetch(`${c.url}/v1/distribution/wasmplugin`, { headers })).json()) as Published;
      const waiters = (c.app.local as unknown as { waiters: Set<unknown> }).waiters;
      const abort = new AbortController();
      const poll = fetch(`${c.url}/v1/distribution/wasmplugin?known=${version}&waitSeconds=30`, { headers, signal: abort.signal }).catch(() => 'aborted');
      for (let i = 0; i < 50 && waiters.size === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(waiters.size, 1, 'the poll is held');
      abort.abort();
      assert.equal(await poll, 'aborted');
      for (let i = 0; i < 50 && waiters.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(waiters.size, 0, 'released when the client went away');
    } finally {
      await c.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
