// The filter's proxy status in usage reports (docs/usage-report.md "Proxy status"), against a real loopback HTTP
// server as the control cluster: under a versioned configuration every report carries `proxy` (Envoy's node id, the
// configuration's version, the VM's own id, failure counters since the VM started) and an idle worker reports each
// interval (a heartbeat); without `configVersion` nothing changes (no `proxy`, no empty reports). Valid per the schema.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ProxyStatus } from '../../contracts/usage-report.js';
import type { HostOptions } from '../../host/index.js';
import { baseConfig, startHost, type Harness, type TestConfig } from './harness.js';
import { Control, USAGE_CLUSTER, type Report } from './control-stub.js';

const ajv = new Ajv2020({ strict: false });
const validateReport = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/usage-report.v1.schema.json', import.meta.url), 'utf8')) as object);
const NODE = 'sidecar~10.1.2.3~shop-7f9c.prod~prod.svc.cluster.local';
const VERSION = 'a'.repeat(64);

type WithProxy = Report & { proxy?: ProxyStatus };

function config(configVersion?: string): TestConfig {
  const cfg = baseConfig();
  cfg.usage = { cluster: USAGE_CLUSTER, authority: 'ctl.local', path: '/v1/usage/reports', intervalMs: 1000, token: 'Bearer tgr_test' };
  if (configVersion !== undefined) (cfg as TestConfig & { configVersion: string }).configVersion = configVersion;
  return cfg;
}

async function tick(h: Harness, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) {
    await h.host.advance(1000);
    await h.host.settle();
  }
}

describe('proxy status in usage reports', () => {
  let control: Control;
  before(async () => { control = new Control(); await control.listen(); });
  after(async () => control.close());

  async function start(cfg: TestConfig, options: HostOptions = {}): Promise<Harness> {
    control.received = [];
    control.mode = 'ok';
    control.fleet = () => [];
    const h = await startHost(cfg, { clusters: control.clusters(), ...options });
    for (let i = 0; i < 50 && !h.host.sharedData('tollgate').has('tg:primed'); i++) await h.host.settle();
    await h.host.settle();
    control.received = [];
    return h;
  }

  const reports = (): WithProxy[] => control.received.map((r) => r.report as WithProxy);

  it('carries node, configVersion and counters; an idle worker sends a heartbeat each interval', async () => {
    const h = await start(config(VERSION), { properties: { 'xds.node.id': NODE } });
    try {
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' }, worker: 0 });
      const perTick: number[] = [];
      for (let i = 0; i < 3; i++) {
        const n = control.received.length;
        await tick(h, 1);
        perTick.push(control.received.length - n);
      }
      const got = reports();
      for (const r of got) assert.ok(validateReport(r), JSON.stringify(validateReport.errors));
      assert.ok(got.every((r) => r.proxy !== undefined), 'every report carries proxy');
      assert.ok(got.every((r) => r.proxy!.node === NODE && r.proxy!.configVersion === VERSION));
      assert.ok(got.every((r) => r.proxy!.flushFailed === 0 && r.proxy!.dropped === 0 && r.proxy!.feedFailed === 0));
      assert.ok(got.every((r) => r.proxy!.feedEpoch === undefined), 'no key feed configured: no feed fields');
      assert.equal(got.filter((r) => r.entries.length > 0).length, 1, 'the request is reported once');
      // Every ticking VM (the two workers' and, as in Envoy, the main thread's) reports once per interval, the idle
      // ones with no entries: never more.
      assert.ok(perTick.every((n) => n === perTick[0] && n >= 2 && n <= 3), `reports per interval: ${perTick.join(', ')}`);
    } finally {
      await h.host.close();
    }
  });

  it('each VM reports its own id (8 hex chars), the same in every report of that VM and across a reconfiguration', async () => {
    const h = await start(config(VERSION), { properties: { 'xds.node.id': NODE }, workers: 3 });
    const perTick: string[][] = [];
    try {
      const round = async (): Promise<void> => {
        const n = control.received.length;
        await tick(h, 1);
        perTick.push(reports().slice(n).map((r) => r.proxy!.vm!));
      };
      for (let i = 0; i < 3; i++) await round();
      for (const r of reports()) assert.ok(validateReport(r), JSON.stringify(validateReport.errors));
      const ids = perTick[0]!;
      assert.ok(ids.length >= 3, `one report per ticking VM: ${ids.join(', ')}`);
      assert.ok(ids.every((id) => /^[0-9a-f]{8}$/.test(id)), ids.join(', '));
      assert.equal(new Set(ids).size, ids.length, 'distinct per VM');
      for (const later of perTick.slice(1)) assert.deepEqual([...later].sort(), [...ids].sort(), 'each VM keeps its id');
      // A request's report comes from the VM that served it: one of the same ids.
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' }, worker: 1 });
      await h.host.reconfigure(JSON.stringify(config('b'.repeat(64))));
      await round();
      const last = reports().slice(-perTick.at(-1)!.length);
      assert.deepEqual(perTick.at(-1)!.sort(), [...ids].sort(), 'a new configuration in the same VMs keeps their ids');
      assert.ok(last.every((r) => r.proxy!.configVersion === 'b'.repeat(64)));
      const withEntries = reports().filter((r) => r.entries.length > 0);
      assert.equal(withEntries.length, 1);
      assert.ok(ids.includes(withEntries[0]!.proxy!.vm!));
    } finally {
      await h.host.close();
    }
    // Another Envoy process draws its own ids.
    const other = await start(config(VERSION), { properties: { 'xds.node.id': NODE } });
    try {
      await tick(other, 1);
      const again = reports().map((r) => r.proxy!.vm!);
      assert.ok(again.length > 0 && again.every((id) => /^[0-9a-f]{8}$/.test(id)));
      assert.ok(again.every((id) => !perTick[0]!.includes(id)), 'no id shared with the other process');
    } finally {
      await other.host.close();
    }
  });

  it('counts failed flushes since the VM started', async () => {
    const h = await start(config(VERSION), { properties: { 'xds.node.id': NODE } });
    try {
      control.mode = '503';
      await tick(h, 2);
      control.mode = 'ok';
      control.received = [];
      await tick(h, 4);
      const ok = control.received.filter((r) => r.answered === 'ok').map((r) => r.report as WithProxy);
      assert.ok(ok.length > 0);
      assert.ok(ok.some((r) => r.proxy!.flushFailed > 0), 'a later report says how many flushes failed');
      for (const r of ok) assert.ok(validateReport(r), JSON.stringify(validateReport.errors));
    } finally {
      await h.host.close();
    }
  });

  it('escapes a node id that needs it, and reports "" when the host has no node id', async () => {
    const odd = 'we"ird\\node\u0001';
    let h = await start(config(VERSION), { properties: { 'xds.node.id': odd } });
    try {
      await tick(h, 1);
      assert.ok(reports().length > 0);
      assert.ok(reports().every((r) => r.proxy!.node === odd), 'the JSON round-trips the id');
    } finally {
      await h.host.close();
    }
    h = await start(config(VERSION));
    try {
      await tick(h, 1);
      assert.ok(reports().length > 0 && reports().every((r) => r.proxy!.node === ''));
      for (const r of reports()) assert.ok(validateReport(r), JSON.stringify(validateReport.errors));
    } finally {
      await h.host.close();
    }
  });

  it('without configVersion: no proxy, and an idle proxy sends nothing (an older control service sees what it knows)', async () => {
    const h = await start(config(), { properties: { 'xds.node.id': NODE } });
    try {
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      await tick(h, 3);
      assert.ok(reports().length >= 1);
      assert.ok(reports().every((r) => r.proxy === undefined && r.entries.length > 0));
    } finally {
      await h.host.close();
    }
  });

  it('refuses a malformed configVersion (the configuration is rejected, the old one keeps serving)', async () => {
    const h = await start(config(VERSION), { properties: { 'xds.node.id': NODE } });
    try {
      await assert.rejects(h.host.reconfigure(JSON.stringify(config('has space'))));
      await tick(h, 1);
      assert.ok(reports().every((r) => r.proxy!.configVersion === VERSION));
    } finally {
      await h.host.close();
    }
  });
});
