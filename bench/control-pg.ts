// The control service on PostgreSQL (docs/deploy.md): three replicas ingesting side by side with a plain batched INSERT
// of the same rows into the same server (the ratio is the goal), the distributor's failover after a SIGKILL, and a
// usage query over 30 days × 10,000 keys. Skipped, with the reason, when no server is reachable
// (TOLLGATE_TEST_PG_URL, default the machine's own on 127.0.0.1:5432).
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import type { BenchRow } from './row.js';
import { ADMIN, call, ingest, seed, startControl, usageBatches, type Seeded } from './control.js';
// The test suite's PostgreSQL conventions (TOLLGATE_TEST_PG_URL, a fresh database per use, dropped after).
import { createTestDatabase, pgUnavailable } from '../tests/control/postgres-fixture.js';

const QUERY_BUDGET_MS = 500;

/** The same rows the replicas ingest, as a plain multi-row INSERT per batch into a bare table, 8 connections at once. */
async function rawInsertRowsPerSec(url: string, s: Seeded, batches: number, perBatch: number, senders: number): Promise<number> {
  const bodies = usageBatches(s, batches, perBatch, senders, 1_000_000).map((b) => JSON.parse(b) as { entries: { minute: number; keyId: string; apiId: string; outcome: string; count: number }[] });
  const pool = new pg.Pool({ connectionString: url, max: senders });
  try {
    await pool.query('CREATE TABLE raw_minute (start BIGINT NOT NULL, key_id TEXT NOT NULL, api_id TEXT NOT NULL, outcome TEXT NOT NULL, count BIGINT NOT NULL)');
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: senders }, async () => {
      while (next < bodies.length) {
        const e = bodies[next++]!.entries;
        await pool.query('INSERT INTO raw_minute SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[])',
          [e.map((x) => x.minute), e.map((x) => x.keyId), e.map((x) => x.apiId), e.map((x) => x.outcome), e.map((x) => x.count)]);
      }
    }));
    return (batches * perBatch) / ((performance.now() - started) / 1000);
  } finally {
    await pool.end();
  }
}

async function leaderOf(urls: string[]): Promise<number> {
  const views = await Promise.all(urls.map((u) => call(u, 'GET', '/v1/distribution', ADMIN).catch(() => undefined)));
  return views.findIndex((v) => (v?.json as { leader?: boolean } | undefined)?.leader === true);
}

/** SIGKILL the leader, time until another replica leads; the killed one is restarted. Median over `rounds`. */
async function failoverMs(db: string, replicas: { child: ChildProcess; url: string }[], rounds: number): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let leader = -1;
    for (let i = 0; i < 100 && leader < 0; i++) {
      leader = await leaderOf(replicas.map((x) => x.url));
      if (leader < 0) await new Promise((res) => setTimeout(res, 50));
    }
    const killedAt = performance.now();
    replicas[leader]!.child.kill('SIGKILL');
    const others = replicas.filter((_, i) => i !== leader).map((x) => x.url);
    for (;;) {
      if ((await leaderOf(others)) >= 0) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    times.push(performance.now() - killedAt);
    replicas[leader] = await startControl(db);
  }
  return times.sort((a, b) => a - b);
}

/** usage_day rows for 10,000 keys × 30 days, written straight into the store's table. */
async function fillThirtyDays(url: string, s: Seeded): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const today = Math.floor(Date.now() / 86_400_000) * 86_400;
    await c.query(`INSERT INTO usage_day (start, key_id, api_id, outcome, consumer_id, count)
      SELECT $1::bigint - d * 86400, 'key_b' || k, $2, 'allowed', 'con_b' || (k % 1000), 10
      FROM generate_series(0, 29) d, generate_series(1, 10000) k`, [today, s.apiIds[0]]);
    await c.query('ANALYZE usage_day');
  } finally {
    await c.end();
  }
}

export async function run(): Promise<BenchRow[]> {
  const unreachable = await pgUnavailable();
  if (unreachable !== undefined) {
    console.error(`bench: PostgreSQL rows skipped: ${unreachable}`);
    return [];
  }
  const database = await createTestDatabase();
  const db = database.url;
  const replicas = await Promise.all([0, 1, 2].map(() => startControl(db)));
  try {
    const urls = replicas.map((r) => r.url);
    const s = await seed(urls[0]!, 1000);
    await ingest(urls, s, 10, 1000, 4); // warm-up
    const rowsPerSec = await ingest(urls, s, 200, 2000, 8, 10);
    const rawPerSec = await rawInsertRowsPerSec(db, s, 200, 2000, 8);
    const ratio = rowsPerSec / rawPerSec;
    const failovers = await failoverMs(db, replicas, 3);
    await fillThirtyDays(db, s);
    const from = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const queries: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const res = await call(replicas[i % 3]!.url, 'GET', `/v1/usage?granularity=day&from=${from}`, ADMIN);
      if (res.status !== 200) throw new Error(`usage query: ${res.status}`);
      queries.push(performance.now() - t0);
    }
    queries.sort((a, b) => a - b);
    const failover = failovers[Math.floor(failovers.length / 2)]!;
    const query = queries[2]!;
    console.error(`control (PostgreSQL, 3 replicas): ingest ${Math.round(rowsPerSec)} entries/s vs plain INSERT ${Math.round(rawPerSec)} rows/s (${ratio.toFixed(2)}); failover ${failovers.map((f) => f.toFixed(0)).join(', ')} ms; 30-day query over 10,000 keys ${queries.map((q) => q.toFixed(0)).join(', ')} ms`);
    return [
      { name: 'control.pg.ingestRowsPerSec', value: Math.round(rowsPerSec), unit: 'entries/s' },
      { name: 'control.pg.ingestVsRawInsert', value: Number(ratio.toFixed(3)), unit: 'ratio', goal: '>= 0.5', met: ratio >= 0.5 },
      { name: 'control.pg.failoverMs', value: Math.round(failover), unit: 'ms' },
      { name: 'control.pg.usageQuery30dMs', value: Number(query.toFixed(1)), unit: 'ms', goal: `<= ${QUERY_BUDGET_MS}`, met: query <= QUERY_BUDGET_MS },
    ];
  } finally {
    for (const r of replicas) r.child.kill('SIGKILL');
    await database.drop().catch(() => undefined);
  }
}
