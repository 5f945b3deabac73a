// Fleet status end to end through real processes: `node bin/tollgate.mjs start --sidecars 2` (control service child,
// two sidecar hosts with the filter, each its own node id, one demo upstream). A rollout with the second sidecar held
// back: GET /v1/fleet shows one node current and one behind on the old version, GET /v1/distribution says 1 of 2, the
// control service's gauges agree; released, 2 of 2; the second sidecar stopped goes stale.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../mesh/wait.js';
import { admin, eventually, startMeshProcess, viaProxy, type MeshProcess } from './mesh-process.js';

interface FleetVm { reporter: string; vm: string; configVersion: string; current: boolean; stale: boolean }
interface FleetItem { node: string; target: string; workers: number; configVersion: string; current: boolean; state: string; feedSync: string; feedLag: number; keys: number | null; lastSeen: string; vms: FleetVm[] }
interface Fleet { items: FleetItem[]; staleAfterSeconds: number; forgetAfterSeconds: number }
interface Convergence { target: string; version: string; proxies: number; current: number; behind: number; stale: number; oldestLaggard: { node: string; configVersion: string; behindSeconds: number } | null }
interface Distribution { version: string; convergence: Convergence[] }

const STALE_S = 2;

/** Two consecutive free ports: the second sidecar listens on the port after the first's. */
async function consecutivePorts(): Promise<number> {
  const free = (port: number) => new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p < 65535 && await free(p + 1)) return p;
  }
  throw new Error('no two consecutive free ports');
}

let dir: string;
let mesh: MeshProcess;
let call: ReturnType<typeof admin>;
let node1: string;
let node2: string;

async function fleet(): Promise<Fleet> {
  const r = await call<Fleet>('GET', '/v1/fleet?target=default');
  assert.equal(r.status, 200);
  return r.body;
}

async function distribution(): Promise<{ version: string; c: Convergence }> {
  const r = await call<Distribution>('GET', '/v1/distribution');
  assert.equal(r.status, 200);
  return { version: r.body.version, c: r.body.convergence.find((x) => x.target === 'default')! };
}

async function gauges(): Promise<Map<string, number>> {
  const text = await (await fetch(`${mesh.controlUrl}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('tollgate_fleet_') || !line.includes('target="default"')) continue;
    const at = line.lastIndexOf(' ');
    m.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return m;
}

const byNode = (f: Fleet, node: string) => f.items.find((i) => i.node === node);
/** The node's VMs heard from within the stale interval. */
const liveVms = (f: Fleet, node: string): FleetVm[] => (byNode(f, node)?.vms ?? []).filter((v) => !v.stale);
/** A sidecar's VMs: its TOLLGATE_WORKERS (2) workers' and the main thread's. */
const VMS = 3;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-fleet-'));
  const proxy = await consecutivePorts();
  const ports = { control: await freePort(), proxy, upstream: await freePort() };
  mesh = await startMeshProcess(join(dir, 'home'), ports, {
    args: ['--sidecars', '2'],
    env: { TOLLGATE_FLEET_STALE_AFTER_SECONDS: String(STALE_S), TOLLGATE_FLEET_FORGET_AFTER_SECONDS: '600' },
  });
  call = admin(mesh);
  node1 = `sidecar~127.0.0.1~tollgate-local-${mesh.child.pid}~local`;
  node2 = `sidecar~127.0.0.1~tollgate-local-${mesh.child.pid}-2~local`;
});

after(async () => {
  const code = await mesh?.stop();
  if (code !== 0) console.error(mesh?.output());
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('fleet status through tollgate start --sidecars 2', () => {
  let planId: string;
  let key: string;
  let oldVersion: string;
  const proxy2 = () => ({ proxyUrl: mesh.proxyUrl.replace(/:(\d+)$/, (_m, p: string) => `:${Number(p) + 1}`) });

  it('lists both sidecars as current, with their key sets in sync', async () => {
    // Ready means sidecar 1 serves; the banner follows once sidecar 2 does too.
    await eventually('the banner', 60_000, async () => (mesh.output().includes('local mesh is up') ? true : undefined), 100);
    assert.match(mesh.output(), /sidecar 2, node sidecar~127\.0\.0\.1~tollgate-local-\d+-2~local/);
    const api = await call<{ id: string }>('POST', '/v1/apis', { name: 'fleet-shop', pathPrefix: '/fleet-shop' });
    assert.equal(api.status, 201);
    const plan = await call<{ id: string }>('POST', '/v1/plans', { name: 'fleet-plan', limits: [{ requests: 1000, per: 'minute' }], apiIds: [api.body.id] });
    planId = plan.body.id;
    const consumer = await call<{ id: string }>('POST', '/v1/consumers', { name: 'fleet-consumer' });
    key = (await call<{ key: string }>('POST', `/v1/consumers/${consumer.body.id}/keys`, { planId })).body.key;
    // Traffic through both sidecars, once each has the new API and the key (a pass-through 200 does not count: the
    // upstream must have seen the key identified).
    for (const target of [mesh, proxy2()]) {
      await eventually('the key on the sidecar', 15_000, async () => {
        const r = await viaProxy(target, '/fleet-shop/x', key);
        return r.status === 200 && r.json<{ headers: Record<string, string> }>().headers['x-tollgate-key-id'] !== undefined ? true : undefined;
      }, 50);
    }
    const f = await eventually('both nodes current on the distributed version', 20_000, async () => {
      const version = (await distribution()).version;
      const v = await fleet();
      // Every VM reports on its own (a configuration's canary VM too, once, while the process is not primed: its row
      // is live until the stale interval), so wait for the sidecars' own VMs.
      const ok = [node1, node2].every((n) => byNode(v, n)?.state === 'current' && byNode(v, n)?.configVersion === version && byNode(v, n)?.feedSync === 'synced'
        && byNode(v, n)?.workers === VMS);
      if (ok) oldVersion = version;
      return ok ? v : undefined;
    }, 200);
    assert.equal(f.staleAfterSeconds, STALE_S);
    for (const n of [node1, node2]) {
      const item = byNode(f, n)!;
      assert.equal(item.current, true);
      const live = liveVms(f, n);
      assert.equal(new Set(item.vms.map((v) => v.reporter)).size, 1, 'one Envoy process per sidecar');
      assert.equal(live.length, VMS);
      assert.equal(new Set(live.map((v) => v.vm)).size, VMS, 'each VM its own id');
      assert.ok(live.every((v) => /^[0-9a-f]{8}$/.test(v.vm) && v.current), JSON.stringify(item.vms));
      assert.equal(item.feedLag, 0);
      assert.ok((item.keys ?? 0) >= 2, 'the demo key and this test\'s');
    }
  });

  it('during a rollout with sidecar 2 held back: one current, one behind on the old version, 1 of 2, gauges agree', async () => {
    writeFileSync(join(mesh.home, 'sidecar-2.hold'), '');
    const r = await call('PATCH', `/v1/plans/${planId}`, { limits: [{ requests: 500, per: 'minute' }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const newVersion = await eventually('a new version', 10_000, async () => {
      const v = (await distribution()).version;
      return v !== oldVersion ? v : undefined;
    }, 100);
    const f = await eventually('sidecar 1 current and sidecar 2 behind', 20_000, async () => {
      const v = await fleet();
      return byNode(v, node1)?.state === 'current' && byNode(v, node2)?.state === 'behind' ? v : undefined;
    }, 200);
    assert.equal(byNode(f, node1)!.configVersion, newVersion);
    assert.equal(byNode(f, node2)!.configVersion, oldVersion);
    assert.equal(byNode(f, node2)!.current, false);
    assert.ok(liveVms(f, node2).length > 0 && liveVms(f, node2).every((v) => v.configVersion === oldVersion && !v.current), 'every VM of the held sidecar');
    // The held-back sidecar still serves (its old configuration) and keeps reporting: it stays behind, not stale.
    assert.equal((await viaProxy(proxy2(), '/fleet-shop/x', key)).status, 200);
    await new Promise((r2) => setTimeout(r2, STALE_S * 1000 + 500));
    assert.equal(byNode(await fleet(), node2)?.state, 'behind');
    const behindOnly = await call<Fleet>('GET', '/v1/fleet?state=behind');
    assert.deepEqual(behindOnly.body.items.map((i) => i.node), [node2]);
    const { c } = await distribution();
    assert.deepEqual([c.version, c.proxies, c.current, c.behind, c.stale], [newVersion, 2, 1, 1, 0]);
    assert.equal(c.oldestLaggard?.node, node2);
    assert.equal(c.oldestLaggard?.configVersion, oldVersion);
    assert.ok(c.oldestLaggard!.behindSeconds >= STALE_S, `behind for ${c.oldestLaggard!.behindSeconds} s`);
    const g = await gauges();
    assert.equal(g.get('tollgate_fleet_proxies{target="default",state="current"}'), 1);
    assert.equal(g.get('tollgate_fleet_proxies{target="default",state="behind"}'), 1);
    assert.equal(g.get('tollgate_fleet_proxies{target="default",state="stale"}'), 0);
    assert.equal(g.get('tollgate_fleet_converged_ratio{target="default"}'), 0.5);
    assert.ok((g.get('tollgate_fleet_oldest_lag_seconds{target="default"}') ?? 0) >= STALE_S);
    assert.equal(g.get('tollgate_fleet_feed_lag_revisions{target="default"}'), 0);
    assert.equal(g.get('tollgate_fleet_proxy_failures{target="default",kind="flush"}'), 0);
  });

  it('released, sidecar 2 converges: 2 of 2', async () => {
    rmSync(join(mesh.home, 'sidecar-2.hold'));
    const { version } = await distribution();
    await eventually('both nodes current', 20_000, async () => {
      const v = await fleet();
      return [node1, node2].every((n) => byNode(v, n)?.state === 'current' && byNode(v, n)?.configVersion === version) ? v : undefined;
    }, 200);
    const { c } = await distribution();
    assert.deepEqual([c.proxies, c.current, c.behind, c.stale, c.oldestLaggard], [2, 2, 0, 0, null]);
    const g = await gauges();
    assert.equal(g.get('tollgate_fleet_converged_ratio{target="default"}'), 1);
    assert.equal(g.get('tollgate_fleet_oldest_lag_seconds{target="default"}'), 0);
  });

  it('sidecar 2 stopped goes stale after the stale interval; sidecar 1 stays current', async () => {
    writeFileSync(join(mesh.home, 'sidecar-2.stop'), '');
    await eventually('the mesh to stop sidecar 2', 10_000, async () => (/\[sidecar 2\] stopped/.test(mesh.output()) ? true : undefined), 100);
    const stoppedAt = Date.now();
    const f = await eventually('sidecar 2 stale', 20_000, async () => {
      const v = await fleet();
      return byNode(v, node2)?.state === 'stale' ? v : undefined;
    }, 200);
    assert.ok(Date.now() - stoppedAt >= (STALE_S - 1) * 1000, 'not stale before the interval');
    assert.equal(byNode(f, node2)!.workers, 0);
    assert.equal(byNode(f, node1)!.state, 'current');
    const { c } = await distribution();
    assert.deepEqual([c.proxies, c.current, c.behind, c.stale], [2, 1, 0, 1]);
    const g = await gauges();
    assert.equal(g.get('tollgate_fleet_proxies{target="default",state="stale"}'), 1);
    assert.equal(g.get('tollgate_fleet_proxies{target="default",state="current"}'), 1);
    assert.equal(g.get('tollgate_fleet_converged_ratio{target="default"}'), 1, 'over live nodes');
    // Sidecar 1 still serves.
    assert.equal((await viaProxy(mesh, '/fleet-shop/x', key)).status, 200);
  });
});
