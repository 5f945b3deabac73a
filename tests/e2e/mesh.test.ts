// End to end through real processes: `node bin/tollgate.mjs start` (control service child + sidecar host with the
// filter + demo upstream), driven only over HTTP like a user: REST to configure, curl-like requests through the proxy.
// One mesh is shared by the whole file; each test uses its own keys so their counts do not mix.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, get as httpGet } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { admin, eventually, freePorts, startMeshProcess, USAGE_INTERVAL_MS, viaProxy, type MeshPorts, type MeshProcess } from './mesh-process.js';

interface Key { id: string; key: string }
interface Outcomes { allowed: number; rejectedQuota: number; rejectedAuth: number; rejectedForbidden: number }
interface Usage { totals: Outcomes & { units: number } }

let dir: string;
let ports: MeshPorts;
let mesh: MeshProcess;
let call: ReturnType<typeof admin>;
let apiId: string;
let smallPlan: string;
let bigPlan: string;
let consumerId: string;

async function created<T = { id: string }>(path: string, body: unknown): Promise<T> {
  const res = await call<T>('POST', path, body);
  assert.equal(res.status, 201, `POST ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const newKey = (planId: string) => created<Key>(`/v1/consumers/${consumerId}/keys`, { planId });
/**
 * Quota belongs to the subscription (plan + consumer): a test that counts against a small limit gets a consumer of
 * its own, so other tests' keys on the same plan do not share its count.
 */
let consumers = 0;
async function newKeyOfOwnConsumer(planId: string): Promise<Key> {
  const c = await created(`/v1/consumers`, { name: `e2e-consumer-${++consumers}` });
  return created<Key>(`/v1/consumers/${c.id}/keys`, { planId });
}

/**
 * Waits until the sidecar knows the key: the first reply that shows the filter identified it (an allowed request
 * whose upstream saw the key id, or a quota/forbidden refusal). A pass-through 200 does not count: until the new
 * configuration arrives, a path may match no API at all.
 */
async function distributed(k: Key, path = '/shop/items') {
  return eventually(`key ${k.id} to be distributed`, 15_000, async () => {
    const r = await viaProxy(mesh, path, k.key);
    if (r.status === 429 || r.status === 403) return r;
    if (r.status === 200 && r.json<{ headers: Record<string, string> }>().headers['x-tollgate-key-id'] === k.id) return r;
    return undefined;
  }, 20);
}

/** The key's outcome totals; the mesh's APIs have no operations, so every allowed request spent exactly one unit. */
async function usageOf(keyId: string): Promise<Outcomes> {
  const res = await call<Usage>('GET', `/v1/usage?keyId=${keyId}&granularity=minute`);
  assert.equal(res.status, 200);
  const { allowed, rejectedQuota, rejectedAuth, rejectedForbidden, units } = res.body.totals;
  assert.equal(units, allowed, 'one unit per allowed request');
  return { allowed, rejectedQuota, rejectedAuth, rejectedForbidden };
}

/** Fixed windows are UTC-aligned; keep a quota test from straddling the top of the hour. */
async function awayFromHourBoundary(): Promise<void> {
  const intoHour = (Date.now() / 1000) % 3600;
  if (intoHour > 3585) await new Promise((r) => setTimeout(r, (3601 - intoHour) * 1000));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  ports = await freePorts();
  mesh = await startMeshProcess(join(dir, 'home'), ports);
  call = admin(mesh);
  apiId = (await created('/v1/apis', { name: 'shop', pathPrefix: '/shop' })).id;
  const otherApi = (await created('/v1/apis', { name: 'back-office', pathPrefix: '/back-office' })).id;
  assert.ok(otherApi);
  smallPlan = (await created('/v1/plans', { name: 'three-per-hour', limits: [{ requests: 3, per: 'hour' }], apiIds: [apiId] })).id;
  bigPlan = (await created('/v1/plans', { name: 'roomy', limits: [{ requests: 100_000, per: 'hour' }], apiIds: [apiId] })).id;
  consumerId = (await created('/v1/consumers', { name: 'e2e-consumer' })).id;
  await fleetSynced();
});

/**
 * Until a started sidecar's sync report has been answered, hour limits are cut to their cold-start share (10 %):
 * a probe key on a 100-per-hour plan shows RateLimit-Limit 10 until then, 100 after. On a loaded machine the first
 * sync can take a retry or two; tests that count against hour limits wait for it here.
 */
async function fleetSynced(): Promise<void> {
  const probePlan = (await created('/v1/plans', { name: `probe-${Date.now()}`, limits: [{ requests: 100, per: 'hour' }], apiIds: [apiId] })).id;
  const probe = await newKeyOfOwnConsumer(probePlan);
  await distributed(probe);
  await eventually('the sidecar to have synced the fleet\'s counts (full hour limits)', 60_000, async () =>
    ((await viaProxy(mesh, '/shop/items', probe.key)).headers.get('ratelimit-limit') === '100' ? true : undefined), 200);
}

after(async () => {
  if (mesh !== undefined) await mesh.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('local mesh end to end', () => {
  it('seeds the demo on first start and prints a working demo key and curl lines', async () => {
    const out = mesh.output();
    const demoKey = /export TOLLGATE_DEMO_KEY='([^']+)'/.exec(out)?.[1];
    assert.ok(demoKey, `no demo key in output:\n${out}`);
    assert.match(out, /curl -i -H "x-api-key: \$TOLLGATE_DEMO_KEY" http:\/\/127\.0\.0\.1:\d+\/demo\/hello/);
    assert.match(out, /\/v1\/usage\?keyId=key_/);
    const r = await viaProxy(mesh, '/demo/hello', demoKey);
    assert.equal(r.status, 200);
    // Shown once, stored nowhere: not in the mesh's state files, the logs or the SQLite files.
    for (const name of readdirSync(mesh.home)) {
      const bytes = readFileSync(join(mesh.home, name));
      assert.equal(bytes.includes(demoKey), false, `the demo key is in ${name}`);
    }
  });

  it('a key created via REST works through the proxy once distributed; the upstream sees identity, not the key', async () => {
    const createdAt = performance.now();
    const k = await newKey(bigPlan);
    const r = await distributed(k, '/shop/items?color=red');
    console.log(`e2e: key created via REST → first 200 through the proxy in ${(performance.now() - createdAt).toFixed(0)} ms`);
    assert.equal(r.status, 200);
    const echo = r.json<{ path: string; headers: Record<string, string> }>();
    assert.equal(echo.headers['x-tollgate-consumer'], consumerId);
    assert.equal(echo.headers['x-tollgate-key-id'], k.id);
    assert.equal(echo.headers['x-api-key'], undefined);
    assert.equal(echo.path, '/shop/items?color=red');
    // A client cannot forge identity headers.
    const forged = await viaProxy(mesh, '/shop/items', k.key, { 'x-tollgate-consumer': 'con_forged' });
    assert.equal(forged.json<{ headers: Record<string, string> }>().headers['x-tollgate-consumer'], consumerId);
  });

  it('over the limit → 429 with Retry-After and RateLimit headers', async () => {
    await awayFromHourBoundary();
    const k = await newKeyOfOwnConsumer(smallPlan);
    const first = await distributed(k);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('ratelimit-limit'), '3');
    assert.equal(first.headers.get('ratelimit-remaining'), '2');
    assert.equal((await viaProxy(mesh, '/shop/items', k.key)).status, 200);
    assert.equal((await viaProxy(mesh, '/shop/items', k.key)).status, 200);
    const over = await viaProxy(mesh, '/shop/items', k.key);
    assert.equal(over.status, 429);
    const retryAfter = Number(over.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 3600, `retry-after ${over.headers.get('retry-after')}`);
    assert.equal(over.headers.get('ratelimit-limit'), '3');
    assert.equal(over.headers.get('ratelimit-remaining'), '0');
    assert.ok(Number(over.headers.get('ratelimit-reset')) >= 1);
    assert.match(over.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.match(over.body, /quota-exceeded/);
    assert.doesNotMatch(over.body, new RegExp(k.key));
  });

  it('no key or an unknown key → 401 problem that never echoes the key', async () => {
    const none = await viaProxy(mesh, '/shop/items');
    assert.equal(none.status, 401);
    assert.match(none.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.match(none.body, /missing-key/);
    const unknown = await viaProxy(mesh, '/shop/items', 'tgk_this-key-does-not-exist-0000000000000000000');
    assert.equal(unknown.status, 401);
    assert.match(unknown.body, /invalid-key/);
    assert.doesNotMatch(unknown.body, /tgk_this-key/);
  });

  // Security regression: node hands the sidecar an absolute-form target as req.url; passed on as :path it matched no
  // API and went upstream without a key. Envoy's codec (and now the host) splits it: :authority x, :path /demo/orders.
  it('an absolute-form request target without a key is refused by the filter (401), not forwarded', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(ports.proxy, '127.0.0.1', () => socket.write('GET http://x/demo/orders HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      socket.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        const end = got.indexOf('\r\n\r\n');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(got)?.[1] ?? NaN);
        if (end >= 0 && got.length >= end + 4 + length) {
          socket.destroy();
          resolve(got);
        }
      });
      socket.on('error', reject);
      socket.on('end', () => resolve(got));
    });
    assert.match(raw, /^HTTP\/1\.1 401 /, raw);
    assert.match(raw, /missing-key/);
  });

  // Envoy's local reply adds content-type text/plain only when the filter set none (source/common/http/utility.cc).
  it('local replies carry exactly one content-type, the filter\'s application/problem+json', async () => {
    const r = await viaProxy(mesh, '/shop/items');
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
  });

  it('an API the plan does not include → 403', async () => {
    const k = await newKey(bigPlan);
    await distributed(k);
    const r = await viaProxy(mesh, '/back-office/reports', k.key);
    assert.equal(r.status, 403);
    assert.match(r.body, /forbidden/);
  });

  it('usage appears in REST with exact counts after a flush (nothing doubled later)', async () => {
    await awayFromHourBoundary();
    const k = await newKeyOfOwnConsumer(smallPlan);
    await distributed(k); // 1 allowed
    for (let i = 0; i < 2; i++) assert.equal((await viaProxy(mesh, '/shop/items', k.key)).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await viaProxy(mesh, '/shop/items', k.key)).status, 429);
    assert.equal((await viaProxy(mesh, '/back-office/x', k.key)).status, 403);
    const want = { allowed: 3, rejectedQuota: 2, rejectedAuth: 0, rejectedForbidden: 1 };
    await eventually('usage to reach the sent counts', 15_000, async () => {
      const t = await usageOf(k.id);
      return t.allowed + t.rejectedQuota + t.rejectedForbidden >= 6 ? t : undefined;
    }, 100);
    // Several more flush intervals: a retried or duplicated batch must not add anything.
    await new Promise((r) => setTimeout(r, USAGE_INTERVAL_MS * 4));
    assert.deepEqual(await usageOf(k.id), want);
  });

  it('concurrent keep-alive traffic over both workers: every request counted exactly once', async () => {
    const k = await newKey(bigPlan);
    await distributed(k); // 1
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const get = () => new Promise<number>((resolve, reject) => {
      const req = httpGet(`${mesh.proxyUrl}/shop/items`, { agent, headers: { 'x-api-key': k.key } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    const statuses = await Promise.all(Array.from({ length: 400 }, get));
    agent.destroy();
    assert.deepEqual(statuses.filter((s) => s !== 200), []);
    const sent = 401;
    await eventually(`usage to reach ${sent}`, 20_000, async () => ((await usageOf(k.id)).allowed >= sent ? true : undefined), 100);
    await new Promise((r) => setTimeout(r, USAGE_INTERVAL_MS * 3));
    assert.deepEqual(await usageOf(k.id), { allowed: sent, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0 });
  });

  it('revoke → 401 within one distribution cycle', async () => {
    const k = await newKey(bigPlan);
    assert.equal((await distributed(k)).status, 200);
    const started = performance.now();
    const revoked = await call('POST', `/v1/keys/${k.id}/revoke`);
    assert.equal(revoked.status, 200);
    await eventually('the revoked key to be refused', 15_000, async () => ((await viaProxy(mesh, '/shop/items', k.key)).status === 401 ? true : undefined), 10);
    const ms = performance.now() - started;
    console.log(`e2e: revoke → first 401 through the proxy in ${ms.toFixed(0)} ms`);
    // Once refused, it stays refused.
    assert.equal((await viaProxy(mesh, '/shop/items', k.key)).status, 401);
  });

  it('rotate → both keys work during the grace period, only the new one after', async () => {
    const old = await newKey(bigPlan);
    await distributed(old);
    const rotated = await call<Key>('POST', `/v1/keys/${old.id}/rotate`, { gracePeriodSeconds: 5 });
    assert.equal(rotated.status, 201);
    const fresh = rotated.body;
    assert.notEqual(fresh.key, old.key);
    assert.equal((await distributed(fresh)).status, 200);
    assert.equal((await viaProxy(mesh, '/shop/items', old.key)).status, 200, 'old key must still work during the grace period');
    const view = await call<{ status: string; expiresAt: string | null; replacedBy: string | null }>('GET', `/v1/keys/${old.id}`);
    assert.equal(view.body.replacedBy, fresh.id);
    assert.ok(view.body.expiresAt, 'the predecessor carries the end of its grace period');
    const graceEndsMs = Date.parse(view.body.expiresAt);
    await eventually('the grace period to end for the old key', 20_000, async () => ((await viaProxy(mesh, '/shop/items', old.key)).status === 401 ? true : undefined), 100);
    // A lower bound only (a slow machine can be late, never early): refused no sooner than the grace period ends.
    assert.ok(Date.now() >= graceEndsMs, `old key refused ${graceEndsMs - Date.now()} ms before its grace period ended`);
    assert.equal((await viaProxy(mesh, '/shop/items', fresh.key)).status, 200);
  });

  it('rotate → the new key shares the subscription\'s quota: rotating brings no fresh limit', async () => {
    await awayFromHourBoundary();
    const old = await newKeyOfOwnConsumer(smallPlan);
    await distributed(old); // 1 of 3
    assert.equal((await viaProxy(mesh, '/shop/items', old.key)).status, 200); // 2 of 3
    const fresh = (await call<Key>('POST', `/v1/keys/${old.id}/rotate`, { gracePeriodSeconds: 60 })).body;
    assert.equal((await distributed(fresh)).status, 200, 'the third request of the hour, on the new key');
    const over = await viaProxy(mesh, '/shop/items', fresh.key);
    assert.equal(over.status, 429, 'the new key has no fresh limit');
    assert.equal(over.headers.get('ratelimit-remaining'), '0');
    assert.equal((await viaProxy(mesh, '/shop/items', old.key)).status, 429, 'nor the old one in its grace period');
  });

  it('control service killed → the sidecar keeps enforcing; after the restart every counted request is delivered exactly once', async () => {
    const k = await newKey(bigPlan);
    await distributed(k); // 1
    let sent = 1;
    for (let i = 0; i < 4; i++, sent++) assert.equal((await viaProxy(mesh, '/shop/items', k.key)).status, 200);

    const before = mesh.pids();
    assert.ok(before.control);
    const killedAt = performance.now();
    process.kill(before.control!, 'SIGKILL');
    await eventually('the control service to be gone', 5_000, async () => ((await fetch(`${mesh.controlUrl}/healthz`).then(() => false, () => true)) ? true : undefined));
    // Down: allowed traffic still flows and is counted; bad keys are still refused.
    for (let i = 0; i < 10; i++, sent++) assert.equal((await viaProxy(mesh, '/shop/items', k.key)).status, 200);
    assert.equal((await viaProxy(mesh, '/shop/items')).status, 401);

    const restarted = await eventually('the supervisor to restart the control service', 30_000, async () => {
      const p = mesh.pids();
      return p.control !== null && p.control !== before.control ? p : undefined;
    }, 100);
    assert.ok(restarted.controlRestarts >= 1);
    await eventually('the restarted control service to be ready', 30_000, async () => ((await fetch(`${mesh.controlUrl}/readyz`).then((r) => r.status, () => 0)) === 200 ? true : undefined), 200);
    console.log(`e2e: control SIGKILL → restarted and /readyz 200 again in ${(performance.now() - killedAt).toFixed(0)} ms`);
    for (let i = 0; i < 5; i++, sent++) assert.equal((await viaProxy(mesh, '/shop/items', k.key)).status, 200);

    await eventually(`usage to reach the ${sent} requests sent`, 30_000, async () => ((await usageOf(k.id)).allowed >= sent ? true : undefined), 200);
    await new Promise((r) => setTimeout(r, USAGE_INTERVAL_MS * 4));
    assert.deepEqual(await usageOf(k.id), { allowed: sent, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0 });
  });

  it('Ctrl-C (SIGINT to the process group) stops everything cleanly, flushing the last usage; a second start reuses the store without showing a key again', async () => {
    const k = await newKey(bigPlan);
    await distributed(k);
    for (let i = 0; i < 3; i++) assert.equal((await viaProxy(mesh, '/shop/items', k.key)).status, 200);
    // A key that used its whole hour before the restart (the restart must not forget it).
    await awayFromHourBoundary();
    const spent = await newKeyOfOwnConsumer(smallPlan);
    await distributed(spent);
    for (let i = 0; i < 2; i++) assert.equal((await viaProxy(mesh, '/shop/items', spent.key)).status, 200);
    assert.equal((await viaProxy(mesh, '/shop/items', spent.key)).status, 429);
    const { control } = mesh.pids();
    // Stopped right after the traffic: the last flush interval's usage must still be delivered.
    const before = mesh.output().length;
    assert.equal(await mesh.stop(), 0);
    const shutdown = mesh.output().slice(before);
    assert.match(shutdown, /SIGINT: shutting down/);
    assert.doesNotMatch(shutdown, /restarting in/, 'the control service is stopped by the mesh, not restarted during shutdown');
    assert.equal(existsSync(join(mesh.home, 'pids.json')), false);
    assert.throws(() => process.kill(control!, 0), /ESRCH/);

    mesh = await startMeshProcess(mesh.home, ports);
    call = admin(mesh);
    const out = mesh.output();
    assert.doesNotMatch(out, /TOLLGATE_DEMO_KEY='/);
    assert.match(out, /shown on first start only/);
    assert.deepEqual(await usageOf(k.id), { allowed: 4, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0 }, 'usage counted before Ctrl-C was flushed on the way out');
    assert.equal((await distributed(k)).status, 200, 'a key from the first run works after a restart');
    // The restarted sidecar synced the fleet's counts at start: the spent key stays refused. Before that sync it may
    // admit at most its cold-start share, max(1, floor(3 × 0.1)) = 1 (docs/filter.md).
    const after = [];
    for (let i = 0; i < 3; i++) after.push((await viaProxy(mesh, '/shop/items', spent.key)).status);
    assert.ok(after.filter((st) => st === 200).length <= 1, `after the restart: ${after.join(', ')}`);
    assert.equal(after[2], 429);
  });

  it('a mesh killed with SIGKILL takes its control service down too (it watches its stdin pipe); the next start comes up', async () => {
    const { control } = mesh.pids();
    mesh.child.kill('SIGKILL');
    await once(mesh.child, 'exit');
    await eventually('the orphaned control service to shut itself down', 15_000, async () => {
      try {
        process.kill(control!, 0);
        return undefined;
      } catch {
        return true;
      }
    }, 50);

    mesh = await startMeshProcess(mesh.home, ports);
    call = admin(mesh);
    assert.notEqual(mesh.pids().control, control);
    const k = await newKey(bigPlan);
    assert.equal((await distributed(k)).status, 200);
  });
});
