// The key feed's cost on the control service at 1,000 and 10,000 proxies, by simulation from measured per-request
// costs (docs/key-feed.md, "Cost at 1,000 and 10,000 proxies"). Usage:
//   node --import tsx scripts/key-feed-cost-model.ts            measure the costs on a local service, then simulate
//   node --import tsx scripts/key-feed-cost-model.ts --costs '{"wakeCpuUs":200,…}'   simulate from given costs
// Prints a Markdown table. The simulation is event by event: every proxy holds one long poll (wait 25 s, the
// compiler's keyFeed.waitS default); key changes arrive as a Poisson process; a change answers every held poll;
// a proxy asks again after its network round trip (uniform 1–10 ms) and, optionally, a minimum re-poll interval.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { feedSeed, importKeys, measureFeedCosts, startControl } from '../bench/key-feed.js';

export interface Costs {
  emptyPollCpuUs: number; emptyPollBytes: number; wakeCpuUs: number; wakeBytes: number; heldPollBytes: number;
  /** CPU and bytes to serve one whole 1M-key snapshot. */
  snapshot1MCpuMs: number; snapshot1MBytes: number;
}

export interface Scenario { proxies: number; changesPerS: number; minRepollMs: number; waitS?: number; seconds?: number }
export interface Outcome extends Scenario {
  repliesPerS: number; cpuCores: number; bytesPerS: number; heldConnections: number; heldMemoryBytes: number;
  /** Mean time from a change to a proxy's poll being answered with it (ms). */
  meanDelayMs: number; p99DelayMs: number;
}

/** HTTP/1.1 response head per reply (status line, content-type, length, date, keep-alive, cache-control). */
const HEAD_BYTES = 180;

/** Deterministic pseudo-random numbers (the same table every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Simulates one scenario; pure. */
export function simulate(sc: Scenario, costs: Costs): Outcome {
  const waitS = sc.waitS ?? 25;
  const seconds = sc.seconds ?? 120;
  const rand = rng(42);
  const n = sc.proxies;
  const rtt = Float64Array.from({ length: n }, () => 1 + 9 * rand());
  // Steady state at time 0: every proxy holds a poll that started at a random point of its last `wait`.
  const heldFrom = Float64Array.from({ length: n }, () => -rand() * waitS * 1000);
  const changes: number[] = [];
  for (let t = 0; ;) {
    t += (-Math.log(1 - rand()) / sc.changesPerS) * 1000;
    if (t > seconds * 1000) break;
    changes.push(t);
  }
  let woken = 0;
  let empty = 0;
  let heldMs = 0;
  const delays: number[] = [];
  const end = seconds * 1000;
  for (let i = 0; i < n; i++) {
    let at = heldFrom[i]!; // this poll is held from `at`
    // `ci`: the first change this proxy has not been sent (changes start at time 0).
    let ci = 0;
    while (at < end) {
      // A change that landed while the proxy was between polls is answered at once (since < head).
      const pending = ci < changes.length && changes[ci]! <= at;
      const next = pending ? at : Math.min(changes[ci] ?? Infinity, at + waitS * 1000);
      heldMs += Math.max(0, Math.min(next, end) - Math.max(at, 0));
      if (next >= end) break;
      if (pending || next === changes[ci]) {
        woken++;
        delays.push(next - changes[ci]! + rtt[i]! / 2);
        while (ci < changes.length && changes[ci]! <= next) ci++;
      } else empty++;
      at = next + Math.max(rtt[i]!, sc.minRepollMs);
    }
  }
  delays.sort((a, b) => a - b);
  const repliesPerS = (woken + empty) / seconds;
  return {
    ...sc,
    repliesPerS,
    cpuCores: (woken * costs.wakeCpuUs + empty * costs.emptyPollCpuUs) / 1e6 / seconds,
    bytesPerS: (woken * (costs.wakeBytes + HEAD_BYTES) + empty * (costs.emptyPollBytes + HEAD_BYTES)) / seconds,
    heldConnections: heldMs / end,
    heldMemoryBytes: (heldMs / end) * costs.heldPollBytes,
    meanDelayMs: delays.length === 0 ? 0 : delays.reduce((a, b) => a + b, 0) / delays.length,
    p99DelayMs: delays.length === 0 ? 0 : delays[Math.floor(delays.length * 0.99)]!,
  };
}

async function measure(): Promise<Costs> {
  const keys = 100_000;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-feed-model-'));
  const { child, url } = await startControl(join(dir, 'model.db'));
  try {
    const s = await feedSeed(url);
    await importKeys(url, s, keys);
    const { readFileSync } = await import('node:fs');
    const cpu = (): number => {
      const f = readFileSync(`/proc/${child.pid!}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    };
    const { snapshotAll } = await import('../bench/key-feed.js');
    const c0 = cpu();
    const snap = await snapshotAll(url);
    const snapCpuS = cpu() - c0;
    const c = await measureFeedCosts(url, child, s);
    return { ...c, snapshot1MCpuMs: (snapCpuS * 1000 * 1_000_000) / keys, snapshot1MBytes: (snap.bytes * 1_000_000) / keys };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtBytes = (b: number): string => (b >= 1e9 ? `${(b / 1e9).toFixed(1)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(0)} kB`);

export function table(costs: Costs): string {
  const rows: string[] = [
    '| proxies | key changes/s | min re-poll | replies/s | CPU (cores) | bytes/s out | polls waiting | memory of waiting polls | change → proxy p99 |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const proxies of [1000, 10_000]) {
    for (const [changesPerS, minRepollMs] of [[0.1, 0], [1, 0], [10, 0], [10, 500]] as const) {
      const o = simulate({ proxies, changesPerS, minRepollMs }, costs);
      rows.push(`| ${proxies.toLocaleString('en')} | ${changesPerS} | ${minRepollMs} ms | ${Math.round(o.repliesPerS).toLocaleString('en')} | ${o.cpuCores.toFixed(2)} | ` +
        `${fmtBytes(o.bytesPerS)}/s | ${Math.round(o.heldConnections).toLocaleString('en')} | ${fmtBytes(o.heldMemoryBytes)} | ${Math.round(o.p99DelayMs)} ms |`);
    }
  }
  rows.push('', 'Keep-alive connections: one per proxy (1,000 / 10,000) in every row; "polls waiting" counts requests held open.', '');
  for (const proxies of [1000, 10_000]) {
    rows.push(`Every one of ${proxies.toLocaleString('en')} proxies taking a 1M-key snapshot at once: ${(proxies * costs.snapshot1MCpuMs / 1000).toFixed(0)} CPU-seconds, ${fmtBytes(proxies * costs.snapshot1MBytes)}.`);
  }
  return rows.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const given = process.argv.indexOf('--costs');
  const costs = given === -1 ? await measure() : (JSON.parse(process.argv[given + 1]!) as Costs);
  console.log(`measured: ${JSON.stringify(costs)}\n`);
  console.log(table(costs));
}
