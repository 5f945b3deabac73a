// Key feed benchmark, over real HTTP against the service as its own process (`tollgate control`, SQLite):
// - control.keyFeedSnapshot1MMs: 1,000,000 keys imported (NDJSON, streamed), then the whole snapshot built and
//   transferred, every page, as a proxy pages it (10,000 keys per page).
// - the per-request costs the cost model (scripts/key-feed-cost-model.ts, docs/key-feed.md) starts from: the
//   service's CPU per long poll answered (with no change, and woken by a change), bytes per reply, memory per held
//   poll, and the time to answer 1,000 held polls after one revocation.
// The helpers (feedSeed, importKeys, snapshotAll, holdPolls) are exported for other benches (revocation p99).
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { KEY_FEED_MAX_PAGE, type DeltaPage, type SnapshotPage } from '../contracts/key-feed.js';
import { ADMIN, REPORT, call, startControl } from './control.js';
import type { BenchRow } from './row.js';

export { ADMIN, REPORT, startControl };

export interface FeedSeed { apiId: string; planId: string; consumerId: string }

/** One API, plan and consumer to hang keys on. */
export async function feedSeed(url: string): Promise<FeedSeed> {
  const api = (await call(url, 'POST', '/v1/apis', ADMIN, { name: 'feed', pathPrefix: '/feed' })).json as { id: string };
  const plan = (await call(url, 'POST', '/v1/plans', ADMIN, { name: 'feed-plan', limits: [{ requests: 1000, per: 'minute' }], apiIds: [api.id] })).json as { id: string };
  const consumer = (await call(url, 'POST', '/v1/consumers', ADMIN, { name: 'feed-consumer' })).json as { id: string };
  return { apiId: api.id, planId: plan.id, consumerId: consumer.id };
}

/** Imports `count` keys (digests of `bench-key-<i>`, ids `imp_<i>`) as one streamed NDJSON request. */
export async function importKeys(url: string, s: FeedSeed, count: number): Promise<{ ms: number; created: number }> {
  const lines = Readable.from((function* () {
    for (let i = 0; i < count; i += 1000) {
      const chunk: string[] = [];
      for (let j = i; j < Math.min(count, i + 1000); j++) {
        chunk.push(JSON.stringify({ id: `imp_${j}`, digest: createHash('sha256').update(`bench-key-${j}`).digest('base64url'), consumerId: s.consumerId, planId: s.planId }));
      }
      yield `${chunk.join('\n')}\n`;
    }
  })());
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/keys:import`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/x-ndjson' },
    body: Readable.toWeb(lines) as ReadableStream, duplex: 'half',
  } as RequestInit);
  const reply = (await res.json()) as { created: number };
  if (res.status !== 200) throw new Error(`import: ${res.status} ${JSON.stringify(reply)}`);
  return { ms: performance.now() - t0, created: reply.created };
}

/** Pages the whole snapshot as a proxy does; returns its size and the first page's epoch and revision. */
export async function snapshotAll(url: string, token = REPORT, limit = KEY_FEED_MAX_PAGE): Promise<{ ms: number; keys: number; bytes: number; pages: number; epoch: string; revision: number }> {
  const t0 = performance.now();
  let after = '';
  let keys = 0;
  let bytes = 0;
  let pages = 0;
  let first: SnapshotPage | undefined;
  for (;;) {
    const res = await fetch(`${url}/v1/keyfeed/snapshot?limit=${limit}${after === '' ? '' : `&after=${after}`}`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`snapshot: ${res.status} ${text}`);
    bytes += Buffer.byteLength(text);
    pages++;
    const page = JSON.parse(text) as SnapshotPage;
    first ??= page;
    keys += page.keys.length;
    if (page.next === null) return { ms: performance.now() - t0, keys, bytes, pages, epoch: first.epoch, revision: first.revision };
    after = page.next;
  }
}

/** `n` long polls held from `since`; each resolves with its reply's byte count. */
export function holdPolls(url: string, epoch: string, since: number, n: number, waitS: number, token = REPORT): Promise<number>[] {
  return Array.from({ length: n }, async () => {
    const res = await fetch(`${url}/v1/keyfeed/deltas?epoch=${epoch}&since=${since}&wait=${waitS}`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`deltas: ${res.status} ${text}`);
    return Buffer.byteLength(text);
  });
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) a process has used so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

export interface FeedCosts {
  /** Service CPU per deltas request answered at once with no change (µs). */
  emptyPollCpuUs: number;
  emptyPollBytes: number;
  /** Service CPU per held poll woken by a one-key change and answered (µs). */
  wakeCpuUs: number;
  wakeBytes: number;
  /** Service memory per held poll (bytes of RSS). */
  heldPollBytes: number;
  /** Revocation → the last of `held` polls answered (ms). */
  fanoutMs: number;
  held: number;
}

/** Measures per-request costs of the feed on a running service (`child` is its process). */
export async function measureFeedCosts(url: string, child: ChildProcess, s: FeedSeed, held = 1000): Promise<FeedCosts> {
  const pid = child.pid!;
  const snap = await snapshotAll(url);
  const head = (await (await fetch(`${url}/v1/keyfeed/deltas?epoch=${snap.epoch}&since=${snap.revision}`, { headers: { authorization: `Bearer ${REPORT}` } })).json()) as DeltaPage;
  // Empty polls: answered at once (wait 0), 16 at a time.
  const emptyN = 3000;
  let emptyBytes = 0;
  const cpu0 = cpuSeconds(pid);
  for (let i = 0; i < emptyN; i += 16) {
    const replies = await Promise.all(holdPolls(url, snap.epoch, head.revision, Math.min(16, emptyN - i), 0));
    emptyBytes = replies[0]!;
  }
  const emptyPollCpuUs = ((cpuSeconds(pid) - cpu0) / emptyN) * 1e6;
  // Held polls, then one revocation wakes them all.
  const key = (await call(url, 'POST', `/v1/consumers/${s.consumerId}/keys`, ADMIN, { planId: s.planId })).json as { id: string };
  const after = (await (await fetch(`${url}/v1/keyfeed/deltas?epoch=${snap.epoch}&since=${head.revision}`, { headers: { authorization: `Bearer ${REPORT}` } })).json()) as DeltaPage;
  const rss0 = rssBytes(pid);
  const polls = holdPolls(url, snap.epoch, after.revision, held, 30);
  await new Promise((r) => setTimeout(r, 1500));
  const heldPollBytes = Math.max(0, (rssBytes(pid) - rss0) / held);
  const cpu1 = cpuSeconds(pid);
  const t0 = performance.now();
  const revoked = await call(url, 'POST', `/v1/keys/${key.id}/revoke`, ADMIN);
  if (revoked.status !== 200) throw new Error(`revoke: ${revoked.status}`);
  const sizes = await Promise.all(polls);
  const fanoutMs = performance.now() - t0;
  const wakeCpuUs = ((cpuSeconds(pid) - cpu1) / held) * 1e6;
  return { emptyPollCpuUs, emptyPollBytes: emptyBytes, wakeCpuUs, wakeBytes: sizes[0]!, heldPollBytes, fanoutMs, held };
}

export async function run(): Promise<BenchRow[]> {
  const count = Number(process.env.TOLLGATE_BENCH_FEED_KEYS ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-keyfeed-'));
  const { child, url } = await startControl(join(dir, 'bench.db'));
  try {
    const s = await feedSeed(url);
    const imported = await importKeys(url, s, count);
    if (imported.created !== count) throw new Error(`imported ${imported.created} of ${count}`);
    const snap = await snapshotAll(url);
    if (snap.keys !== count) throw new Error(`snapshot held ${snap.keys} keys, expected ${count}`);
    const costs = await measureFeedCosts(url, child, s);
    console.error(`key feed: import ${count} keys ${Math.round(imported.ms)} ms; snapshot ${snap.pages} pages ${(snap.bytes / 1e6).toFixed(1)} MB in ${Math.round(snap.ms)} ms; ` +
      `empty poll ${costs.emptyPollCpuUs.toFixed(0)} µs CPU ${costs.emptyPollBytes} B; woken poll ${costs.wakeCpuUs.toFixed(0)} µs CPU ${costs.wakeBytes} B; ` +
      `${costs.held} held polls answered ${Math.round(costs.fanoutMs)} ms after a revocation; ${Math.round(costs.heldPollBytes)} B RSS per held poll`);
    const suffix = count === 1_000_000 ? '' : ` (${count} keys)`;
    return [
      { name: 'control.keyFeedSnapshot1MMs', value: Math.round(snap.ms), unit: `ms${suffix}` },
      { name: 'control.keyFeedSnapshot1MBytes', value: snap.bytes, unit: `bytes${suffix}` },
      { name: 'control.keyImport1MMs', value: Math.round(imported.ms), unit: `ms${suffix}` },
      { name: 'control.keyFeedEmptyPollCpuUs', value: Number(costs.emptyPollCpuUs.toFixed(1)), unit: 'µs CPU per poll' },
      { name: 'control.keyFeedWokenPollCpuUs', value: Number(costs.wakeCpuUs.toFixed(1)), unit: 'µs CPU per poll' },
      { name: 'control.keyFeedHeldPollBytes', value: Math.round(costs.heldPollBytes), unit: 'bytes RSS per held poll' },
      { name: 'control.keyFeedFanout1kMs', value: Math.round(costs.fanoutMs), unit: 'ms (revoke → 1,000 held polls answered)' },
    ];
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
