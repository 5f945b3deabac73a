// Fleet-wide revocation: how long from `POST /v1/keys/{id}/revoke` until every sidecar of a fleet refuses the key.
// One control service runs as its own process (as deployed); the fleet is SIDECARS instances of the host, each its
// own "Envoy process" (its own shared data, a main-thread VM and a worker VM) running the real filter
// (build/tollgate.wasm) with the configuration the control service distributes, pulling keys over the key feed
// (long poll). Each revocation is timed until the last sidecar answers 401; the figure is the p99 over REVOCATIONS.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHost, type Host } from '../host/index.js';
import { readWasmPlugin } from '../contracts/wasmplugin.js';
import { WASMPLUGIN_POLL_PATH } from '../contracts/distribution.js';
import type { BenchRow } from './row.js';
import { ADMIN, call, REPORT, startControl } from './control.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SIDECARS = Number(process.env.TOLLGATE_BENCH_SIDECARS ?? 100);
const REVOCATIONS = Number(process.env.TOLLGATE_BENCH_REVOCATIONS ?? 25);
/** Keys in the set besides the ones revoked, so the sidecars hold a realistic set. */
const BACKGROUND_KEYS = 10_000;
const CLUSTER = 'tollgate-control';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Key { id: string; key: string }

async function created<T>(url: string, path: string, body: unknown): Promise<T> {
  const res = await call(url, 'POST', path, ADMIN, body);
  if (res.status !== 201) throw new Error(`POST ${path} → ${res.status} ${JSON.stringify(res.json)}`);
  return res.json as T;
}

/** The filter configuration the control service distributes to the default target (compact JSON, keys sorted). */
async function distributedConfig(url: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${url}${WASMPLUGIN_POLL_PATH}?waitSeconds=0`, { headers: { authorization: `Bearer ${REPORT}` } });
    if (res.status === 200) {
      const plan = readWasmPlugin(((await res.json()) as { wasmPlugin: unknown }).wasmPlugin);
      if (plan.pluginConfig.includes('"apis":[{')) return plan.pluginConfig;
    } else {
      await res.body?.cancel();
    }
    await sleep(100);
  }
  throw new Error('the control service distributed no configuration with the API');
}

const upstream = (): { status: number; headers: Array<[string, string]> } => ({ status: 200, headers: [] });

async function status(host: Host, key: string): Promise<number> {
  return (await host.request({ method: 'GET', path: '/api/x', headers: { 'x-api-key': key }, worker: 0 }, upstream)).status;
}

/** Polls every sidecar until each answers `want`; resolves with the ms from `t0` at which each, and the last, did. */
async function untilAll(fleet: Host[], key: string, want: 200 | 401, t0: number, timeoutMs: number): Promise<{ lastMs: number; each: number[] }> {
  const each = new Array<number>(fleet.length).fill(-1);
  let left = fleet.length;
  while (left > 0) {
    for (let i = 0; i < fleet.length; i++) {
      if (each[i]! >= 0) continue;
      if ((await status(fleet[i]!, key)) === want) {
        each[i] = performance.now() - t0;
        left--;
      }
    }
    if (left > 0) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`${left} of ${fleet.length} sidecars do not answer ${want} after ${timeoutMs} ms`);
      await sleep(2);
    }
  }
  return { lastMs: Math.max(...each), each };
}

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-revocation-'));
  const { child, url } = await startControl(join(dir, 'bench.db'), {
    TOLLGATE_USAGE_CLUSTER: CLUSTER, TOLLGATE_USAGE_AUTHORITY: CLUSTER, TOLLGATE_USAGE_INTERVAL_MS: '1000', TOLLGATE_LOG_LEVEL: 'warn',
  });
  const fleet: Host[] = [];
  try {
    const apiId = (await created<{ id: string }>(url, '/v1/apis', { name: 'api', pathPrefix: '/api' })).id;
    const planId = (await created<{ id: string }>(url, '/v1/plans', { name: 'p', limits: [{ requests: 1_000_000_000, per: 'hour' }], apiIds: [apiId] })).id;
    const consumerId = (await created<{ id: string }>(url, '/v1/consumers', { name: 'c' })).id;
    for (let made = 0; made < BACKGROUND_KEYS; made += 10_000) {
      await created(url, '/v1/keys:bulkCreate', { consumerId, planId, count: Math.min(10_000, BACKGROUND_KEYS - made) });
    }
    const keys = (await created<{ keys: Key[] }>(url, '/v1/keys:bulkCreate', { consumerId, planId, count: REVOCATIONS })).keys;
    const pluginConfig = await distributedConfig(url);
    const wasm = readFileSync(join(root, 'build', 'tollgate.wasm'));
    const port = Number(new URL(url).port);
    const loadStart = performance.now();
    for (let i = 0; i < SIDECARS; i++) {
      const host = createHost({ workers: 1, clock: 'real', clusters: { [CLUSTER]: { host: '127.0.0.1', port } }, onLog: () => {} });
      fleet.push(host);
      await host.load({ name: 'tollgate.tollgate', rootId: 'tollgate', vmId: 'tollgate.tollgate', wasm, pluginConfig });
    }
    // Every sidecar has taken its snapshot (the keys work everywhere) before the first revocation.
    const synced = await untilAll(fleet, keys[0]!.key, 200, loadStart, 120_000);
    console.error(`revocation: ${SIDECARS} sidecars loaded and synced (${BACKGROUND_KEYS + REVOCATIONS} keys) in ${(synced.lastMs / 1000).toFixed(1)} s`);

    const fleetMs: number[] = [];
    const sidecarMs: number[] = [];
    for (const k of keys) {
      // Let every sidecar settle into a held long poll, as between real changes.
      await sleep(300);
      const t0 = performance.now();
      const revoked = call(url, 'POST', `/v1/keys/${k.id}/revoke`, ADMIN);
      const r = await untilAll(fleet, k.key, 401, t0, 30_000);
      if ((await revoked).status !== 200) throw new Error(`revoke ${k.id} failed`);
      fleetMs.push(r.lastMs);
      sidecarMs.push(...r.each);
    }
    fleetMs.sort((a, b) => a - b);
    sidecarMs.sort((a, b) => a - b);
    const p99 = percentile(fleetMs, 99);
    const p50 = percentile(fleetMs, 50);
    console.error(`revocation: revoke → all ${SIDECARS} sidecars refuse: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${fleetMs.at(-1)!.toFixed(0)} ms over ${REVOCATIONS} revocations; per sidecar p50 ${percentile(sidecarMs, 50).toFixed(0)} ms p99 ${percentile(sidecarMs, 99).toFixed(0)} ms`);
    return [
      { name: 'control.revocationP99Ms', value: Number(p99.toFixed(1)), unit: 'ms', goal: '<= 1000', met: p99 <= 1000 && SIDECARS >= 100 && REVOCATIONS >= 20 },
      { name: 'control.revocationP50Ms', value: Number(p50.toFixed(1)), unit: 'ms' },
      { name: 'control.revocationSidecars', value: SIDECARS, unit: 'sidecars' },
    ];
  } finally {
    for (const h of fleet) await h.close().catch(() => {});
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node --import tsx bench/revocation.ts` runs this part alone.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const row of await run()) console.log(`${row.name} ${row.value} ${row.unit}${row.goal !== undefined ? ` (goal ${row.goal}: ${row.met === true ? 'met' : 'NOT MET'})` : ''}`);
}
