// Three control replicas on one PostgreSQL database, eight proxies reporting round-robin with retries, and faults
// while they report: a replica killed with SIGKILL and restarted, the distributing replica killed (another takes
// over: measured), and PostgreSQL itself restarted. Whatever happens, every acknowledged batch is counted exactly
// once, nothing unacknowledged is half-written, and the API's state is the same on every replica afterwards.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../mesh/wait.js';
import { pgBinDir, startPgCluster, type PgCluster } from './pg-cluster.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN = 'replicas-admin-token-0123456789';
const REPORT = 'replicas-report-token-0123456789';
const skip = pgBinDir() === undefined ? 'PostgreSQL server binaries not installed (apt-get install postgresql)' : false;

interface Replica { child: ChildProcess; url: string; out: () => string }

async function startReplica(dbUrl: string, gitops: string): Promise<Replica> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tollgate.mjs'), 'control'], {
    cwd: ROOT,
    env: {
      ...process.env, TOLLGATE_DB: dbUrl, TOLLGATE_CONTROL_HOST: '127.0.0.1', TOLLGATE_CONTROL_PORT: '0',
      TOLLGATE_ADMIN_TOKEN: ADMIN, TOLLGATE_REPORT_TOKEN: REPORT, TOLLGATE_LOG_LEVEL: 'info', TOLLGATE_DEBOUNCE_MS: '20',
      TOLLGATE_DISTRIBUTION: `dir:${gitops},local`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica did not start: ${out}`)), 60_000);
    const onData = (c: Buffer): void => {
      out += c.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`replica exited ${code}: ${out}`)));
  });
  return { child, url, out: () => out };
}

/**
 * A kept-alive connection the replica closed while idle (its keep-alive timeout, hit on a loaded machine) is retried
 * on a new one, as any HTTP client would; a refused connection (the replica is gone) is not: that is a failure.
 */
async function fetchOnce(url: string, init: RequestInit): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      const code = ((err as { cause?: { code?: string } }).cause)?.code;
      if (attempt < 2 && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET')) continue;
      throw new Error(`${init.method ?? 'GET'} ${url}: ${(err as Error).message} (${code ?? 'no code'})`, { cause: err });
    }
  }
}

async function call<T>(url: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetchOnce(`${url}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const kill9 = async (r: Replica): Promise<void> => {
  r.child.kill('SIGKILL');
  if (r.child.exitCode === null && r.child.signalCode === null) await new Promise((res) => r.child.once('exit', res));
};

describe('control replicas on PostgreSQL under faults', { skip }, () => {
  let cluster: PgCluster;
  let dbUrl: string;
  let dir: string;
  const replicas: Replica[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-replicas-'));
    cluster = startPgCluster(await freePort());
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('CREATE DATABASE tollgate');
    await admin.end();
    dbUrl = cluster.url.replace(/\/postgres$/, '/tollgate');
    // Started together: their migrations race and must serialize.
    replicas.push(...await Promise.all([0, 1, 2].map(() => startReplica(dbUrl, join(dir, 'gitops')))));
  });

  after(async () => {
    // A replica that ended on its own (not killed by the test) is a failure to explain: show how it ended.
    for (const r of replicas) {
      if (r.child.exitCode !== null || r.child.signalCode !== null) {
        console.log(`replica ${r.url} ended (exit ${r.child.exitCode}, signal ${r.child.signalCode}); its log ends:\n${r.out().slice(-4000)}`);
      }
    }
    for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    cluster?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('counts every acknowledged batch exactly once through replica kills, a leader change and a database restart', async () => {
    const [a] = replicas;
    const apiId = (await call<{ id: string }>(a!.url, 'POST', '/v1/apis', ADMIN, { name: 'orders', pathPrefix: '/orders' })).body.id;
    const planId = (await call<{ id: string }>(a!.url, 'POST', '/v1/plans', ADMIN, { name: 'gold', limits: [{ requests: 1_000_000, per: 'day' }], apiIds: [apiId] })).body.id;
    const consumerId = (await call<{ id: string }>(a!.url, 'POST', '/v1/consumers', ADMIN, { name: 'acme' })).body.id;
    const keyId = (await call<{ id: string }>(a!.url, 'POST', `/v1/consumers/${consumerId}/keys`, ADMIN, { planId })).body.id;

    // A change made on one replica reaches another's long poll promptly (LISTEN/NOTIFY, no table polling).
    const b = replicas[1]!;
    const known = (await call<{ version: string }>(b.url, 'GET', '/v1/distribution/wasmplugin', REPORT)).body.version;
    const polled = call<{ version: string }>(b.url, 'GET', `/v1/distribution/wasmplugin?known=${known}&waitSeconds=10`, REPORT);
    const changedAt = performance.now();
    await call(a!.url, 'POST', '/v1/apis', ADMIN, { name: 'more', pathPrefix: '/more' });
    const next = await polled;
    const notifyMs = performance.now() - changedAt;
    assert.equal(next.status, 200);
    assert.notEqual(next.body.version, known);
    assert.ok(notifyMs < 3000, `another replica's long poll saw the change after ${notifyMs.toFixed(0)} ms`);

    const reporters = 8;
    const perReporter = 40;
    const base = Math.floor(Date.now() / 60_000) * 60 - 3 * 86_400;
    const acked = new Set<number>();
    let rr = 0;
    const refusals: number[] = [];
    const send = async (n: number): Promise<void> => {
      const body = {
        version: 1, batchId: n.toString(16).padStart(32, '0'), reporter: (n % reporters).toString(16).padStart(16, '0'), dropped: 0,
        // One minute per batch: its count there says whether, and how often, it was stored.
        entries: [{ minute: base + n * 60, keyId, apiId, outcome: 'allowed', count: 3 }],
      };
      for (;;) {
        const r = replicas[rr++ % replicas.length]!;
        try {
          const res = await call(r.url, 'POST', '/v1/usage/reports', REPORT, body);
          if (res.status === 200) {
            acked.add(n);
            return;
          }
          refusals.push(res.status);
        } catch {
          // replica down or connection cut: the proxy retries the same batch elsewhere
        }
        await sleep(50);
      }
    };
    const work = Promise.all(Array.from({ length: reporters }, async (_, i) => {
      for (let k = 0; k < perReporter; k++) {
        await send(i * perReporter + k);
        await sleep(20);
      }
    }));

    // Fault 1: a replica killed mid-ingestion, then restarted.
    await sleep(800);
    await kill9(replicas[1]!);
    replicas[1] = await startReplica(dbUrl, join(dir, 'gitops'));

    // Fault 2: the distributing replica killed; another must take over.
    const leaderIndex = (await Promise.all(replicas.map((r) => call<{ leader: boolean }>(r.url, 'GET', '/v1/distribution', ADMIN))))
      .findIndex((v) => v.body.leader);
    assert.ok(leaderIndex >= 0, 'one replica leads');
    const killedAt = performance.now();
    await kill9(replicas[leaderIndex]!);
    const others = replicas.filter((_, i) => i !== leaderIndex);
    let failoverMs = -1;
    for (let i = 0; i < 200 && failoverMs < 0; i++) {
      const views = await Promise.all(others.map((r) => call<{ leader: boolean }>(r.url, 'GET', '/v1/distribution', ADMIN).catch(() => undefined)));
      if (views.some((v) => v?.body.leader === true)) failoverMs = performance.now() - killedAt;
      else await sleep(50);
    }
    assert.ok(failoverMs >= 0, 'another replica took over');
    console.log(`replicas: leader killed → another leads after ${failoverMs.toFixed(0)} ms; NOTIFY reached another replica's long poll in ${notifyMs.toFixed(0)} ms`);
    replicas[leaderIndex] = await startReplica(dbUrl, join(dir, 'gitops'));

    // Fault 3: PostgreSQL restarted mid-ingestion. While it is down, requests fail cleanly with 503.
    const before503 = refusals.length;
    cluster.stop();
    const down = await call<{ title: string }>(replicas[0]!.url, 'GET', '/v1/apis', ADMIN);
    assert.equal(down.status, 503, 'the admin API says the database is unavailable');
    await sleep(1500);
    cluster.start();
    await work;
    const during = refusals.slice(before503);
    assert.ok(during.every((s) => s === 503), `refusals while the database was down: ${[...new Set(during)].join(', ')}`);

    assert.equal(acked.size, reporters * perReporter, 'every batch was acknowledged in the end');
    const usage = await call<{ series: { start: string; allowed: number }[] }>(replicas[2]!.url, 'GET',
      `/v1/usage?keyId=${keyId}&granularity=minute&from=${new Date(base * 1000).toISOString()}&to=${new Date((base + reporters * perReporter * 60) * 1000).toISOString()}`, ADMIN);
    assert.equal(usage.status, 200);
    const counts = new Map(usage.body.series.map((p) => [(Date.parse(p.start) / 1000 - base) / 60, p.allowed]));
    const wrong = [...acked].filter((n) => counts.get(n) !== 3).map((n) => `${n}:${counts.get(n) ?? 0}`);
    assert.deepEqual(wrong, [], 'each acknowledged batch stored exactly once (3 per minute)');
    assert.equal(counts.size, acked.size, 'nothing stored that was not sent');

    // The API's state is the same on every replica.
    const states = await Promise.all(replicas.map(async (r) => JSON.stringify(await Promise.all(['/v1/apis', '/v1/plans', '/v1/consumers', '/v1/targets']
      .map(async (p) => (await call(r.url, 'GET', p, ADMIN)).body)))));
    assert.equal(new Set(states).size, 1);
    assert.match(states[0]!, /"orders"/);
  });
});
