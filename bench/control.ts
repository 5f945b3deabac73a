// Control service benchmark: usage ingestion throughput and admin REST latency, over real HTTP against the service
// running as its own process (as deployed: `tollgate control`), so the load generator does not share its event loop.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './row.js';
import { renderTarget } from '../control/distribution/distributor.js';
import { wasmPluginYaml } from '../control/distribution/wasmplugin.js';
import { newId } from '../control/key-material.js';
import type { CompilableKey, TargetWithCredentials } from '../control/store/types.js';
import { OUTCOMES as CONTRACT_OUTCOMES, type Outcome } from '../contracts/usage-report.js';

const root = fileURLToPath(new URL('..', import.meta.url));
export const ADMIN = 'bench-admin-token-0123456789';
export const REPORT = 'bench-report-token-0123456789';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * The service with its default (info) logging, as deployed; its log goes nowhere so the pipe cannot slow it.
 * `db` is a SQLite file or a PostgreSQL URL (TOLLGATE_DB).
 */
export async function startControl(db: string, extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin', 'tollgate.mjs'), 'control'], {
    cwd: root,
    env: { ...process.env, ...extraEnv, TOLLGATE_DB: db, TOLLGATE_CONTROL_HOST: '127.0.0.1', TOLLGATE_CONTROL_PORT: String(port), TOLLGATE_ADMIN_TOKEN: ADMIN, TOLLGATE_REPORT_TOKEN: REPORT, TOLLGATE_LOG_LEVEL: 'info', TOLLGATE_DISTRIBUTION: 'local' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`control exited ${child.exitCode}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) return { child, url };
    if (Date.now() > deadline) throw new Error('control did not start within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function call(url: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

export interface Seeded { apiIds: string[]; planId: string; consumerIds: string[]; keyIds: string[] }

export async function seed(url: string, keys: number): Promise<Seeded> {
  const apiIds: string[] = [];
  for (let i = 0; i < 4; i++) apiIds.push(((await call(url, 'POST', '/v1/apis', ADMIN, { name: `api${i}`, pathPrefix: `/api${i}` })).json as { id: string }).id);
  const planId = ((await call(url, 'POST', '/v1/plans', ADMIN, { name: 'gold', limits: [{ requests: 100, per: 'minute' }, { requests: 10000, per: 'day' }], apiIds })).json as { id: string }).id;
  const consumerIds: string[] = [];
  const keyIds: string[] = [];
  for (let i = 0; i < keys; i++) {
    const consumer = ((await call(url, 'POST', '/v1/consumers', ADMIN, { name: `c${i}` })).json as { id: string }).id;
    consumerIds.push(consumer);
    keyIds.push(((await call(url, 'POST', `/v1/consumers/${consumer}/keys`, ADMIN, { planId })).json as { id: string }).id);
  }
  return { apiIds, planId, consumerIds, keyIds };
}

// Three in six allowed, as in a healthy API; the others each once (the contract's outcome names).
const OUTCOMES: Outcome[] = ['allowed', 'allowed', ...CONTRACT_OUTCOMES];

/** The batches a fleet would send: one counter per (minute, key, API, outcome) in each, as a filter sends. */
export function usageBatches(s: Seeded, batches: number, perBatch: number, senders: number, firstBatch = 0): string[] {
  const minute = Math.floor(Date.now() / 60_000) * 60;
  const bodies: string[] = [];
  for (let b = firstBatch; b < firstBatch + batches; b++) {
    const entries = [];
    for (let e = 0; e < perBatch; e++) {
      // One counter per (minute, key, API, outcome) in a batch, as a filter sends (the service refuses duplicates):
      // e picks the key, then the API, then a slot that (with the batch) sets the minute (up to 30 back) and outcome.
      const n = b * perBatch + e;
      const k = s.keyIds.length, a = s.apiIds.length;
      const slot = b + Math.floor(e / (k * a));
      entries.push({
        minute: minute - (slot % 30) * 60, keyId: s.keyIds[e % k]!, apiId: s.apiIds[Math.floor(e / k) % a]!,
        outcome: OUTCOMES[slot % OUTCOMES.length]!, count: 1 + (n % 7),
      });
    }
    // Batch b goes to sender (b - firstBatch) % senders, which is reporter number that.
    bodies.push(JSON.stringify({ version: 1, batchId: b.toString(16).padStart(32, '0'), reporter: ((b - firstBatch) % senders).toString(16).padStart(16, '0'), entries, dropped: 0 }));
  }
  return bodies;
}

/**
 * Entries per second through POST /v1/usage/reports: `senders` proxies each flushing batches of `perBatch` entries,
 * spread round-robin over the replicas at `urls`.
 */
export async function ingest(urls: string | string[], s: Seeded, batches: number, perBatch: number, senders: number, firstBatch = 0): Promise<number> {
  const targets = Array.isArray(urls) ? urls : [urls];
  const bodies = usageBatches(s, batches, perBatch, senders, firstBatch);
  const started = performance.now();
  // Sender k is one proxy: it sends its own batches (reporter k), one at a time, as a filter does.
  await Promise.all(Array.from({ length: senders }, async (_, k) => {
    for (let i = k; i < bodies.length; i += senders) {
      const res = await call(targets[i % targets.length]!, 'POST', '/v1/usage/reports', REPORT, bodies[i]!);
      if (res.status !== 200) throw new Error(`ingest: ${res.status} ${JSON.stringify(res.json)}`);
    }
  }));
  return (batches * perBatch) / ((performance.now() - started) / 1000);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Mixed admin traffic (70 % reads, 30 % writes) from `clients` concurrent clients; returns latencies in ms. */
async function adminMix(url: string, s: Seeded, ops: number, clients: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < ops) {
      const i = next++;
      const consumer = s.consumerIds[i % s.consumerIds.length]!;
      const kind = i % 10;
      const t0 = performance.now();
      let res;
      if (kind < 2) res = await call(url, 'GET', '/v1/consumers?limit=50', ADMIN);
      else if (kind < 4) res = await call(url, 'GET', `/v1/consumers/${consumer}/keys`, ADMIN);
      else if (kind < 5) res = await call(url, 'GET', `/v1/apis/${s.apiIds[i % s.apiIds.length]!}`, ADMIN);
      else if (kind < 6) res = await call(url, 'GET', `/v1/usage?consumerId=${consumer}&granularity=hour`, ADMIN);
      else if (kind < 7) res = await call(url, 'GET', '/v1/distribution', ADMIN);
      else if (kind < 8) res = await call(url, 'POST', '/v1/consumers', ADMIN, { name: `mix${i}` });
      else if (kind < 9) res = await call(url, 'POST', `/v1/consumers/${consumer}/keys`, ADMIN, { planId: s.planId });
      else res = await call(url, 'PATCH', `/v1/apis/${s.apiIds[i % s.apiIds.length]!}`, ADMIN, { methods: i % 20 === 9 ? ['GET'] : ['GET', 'POST'] });
      latencies.push(performance.now() - t0);
      if (res.status >= 400) throw new Error(`admin mix: ${res.status} ${JSON.stringify(res.json)}`);
    }
  }));
  return latencies.sort((a, b) => a - b);
}

/**
 * Bytes of the rendered WasmPlugin (YAML, as `tollgate render` writes it) for a catalog holding 1,000,000 keys. The
 * snapshot is built in memory (the compiler only reads it): keys ride the key feed, so the size must not move with
 * them; the 0-key rendering is compared to prove it.
 */
export function wasmPluginBytesFor1MKeys(): { bytes: number; sameAsNoKeys: boolean } {
  const consumers = Array.from({ length: 1000 }, () => newId('con'));
  const digest = Buffer.alloc(32);
  const keys: CompilableKey[] = new Array<CompilableKey>(1_000_000);
  for (let i = 0; i < keys.length; i++) {
    digest.writeUInt32BE(i, 0);
    keys[i] = { id: `key_${i.toString(36).padStart(10, '0')}`, digest: digest.toString('base64url'), consumerId: consumers[i % consumers.length]!, planId: 'pln_AAAAAAAAAA', expiresAt: i % 2 === 0 ? null : 4_102_444_800 };
  }
  const apis = [{ id: 'api_AAAAAAAAAA', name: 'a', pathPrefix: '/', hosts: [], methods: [], createdAt: 0, updatedAt: 0 }];
  const plans = [{ id: 'pln_AAAAAAAAAA', name: 'p', limits: [{ requests: 100, per: 'minute' as const }], apiIds: ['api_AAAAAAAAAA'], createdAt: 0, updatedAt: 0 }];
  const target: TargetWithCredentials = {
    id: 'default', name: 'tollgate', namespace: 'tollgate', selector: { app: 'orders' }, targetRefs: null, apiIds: [], denyUnmatched: false,
    passPathForms: [], createdAt: 0, updatedAt: 0, reportToken: `tgr_${'x'.repeat(43)}`, previousReportToken: null, previousValidUntil: null,
  };
  const o = {
    plugin: { pluginName: 'tollgate', url: 'oci://ghcr.io/example/tollgate:0.1.0', sha256: 'a'.repeat(64), failStrategy: 'FAIL_CLOSE' as const },
    usage: { cluster: 'outbound|7070||tollgate-control.tollgate.svc.cluster.local', authority: 'tollgate-control.tollgate.svc.cluster.local', intervalMs: 10_000, timeoutMs: 5_000 },
  };
  // More than the compiler reads (the store's snapshot has no keys at all): proves it ignores them.
  const store = { apis, plans, keys };
  const yaml = wasmPluginYaml(renderTarget(store, target, o).wasmPlugin);
  const none = wasmPluginYaml(renderTarget({ apis, plans }, target, o).wasmPlugin);
  return { bytes: Buffer.byteLength(yaml), sameAsNoKeys: yaml === none };
}

export async function run(): Promise<BenchRow[]> {
  const plugin1M = wasmPluginBytesFor1MKeys();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-control-'));
  const { child, url } = await startControl(join(dir, 'bench.db'));
  try {
    const s = await seed(url, 1000);
    await ingest(url, s, 10, 1000, 4); // warm-up
    const rowsPerSec = await ingest(url, s, 200, 2000, 8, 10);
    const latencies = await adminMix(url, s, 4000, 16);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.error(`control: ingest ${Math.round(rowsPerSec)} entries/s (200 batches × 2000 entries, 8 senders); admin mix p50 ${p50.toFixed(2)} ms p99 ${p99.toFixed(2)} ms (4000 requests, 16 clients, 1000+ keys)`);
    return [
      { name: 'control.ingestRowsPerSec', value: Math.round(rowsPerSec), unit: 'entries/s', goal: '>= 20000', met: rowsPerSec >= 20_000 },
      { name: 'control.restP99Ms', value: Number(p99.toFixed(2)), unit: 'ms' },
      { name: 'control.restP50Ms', value: Number(p50.toFixed(2)), unit: 'ms' },
      // Met only if it is small and also byte-for-byte the 0-key rendering (keys must not leak into it at all).
      { name: 'control.wasmPluginBytes1MKeys', value: plugin1M.bytes, unit: 'bytes', goal: '<= 65536', met: plugin1M.bytes <= 65_536 && plugin1M.sameAsNoKeys },
    ];
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
