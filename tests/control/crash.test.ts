// kill -9 during ingestion loses nothing acknowledged: a real child process on a real SQLite file.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ADMIN, REPORT, sqliteOnly, tempDir } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function startChild(dbPath: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(root, 'bin', 'tollgate.mjs'), 'control'], {
    cwd: root,
    env: { ...process.env, TOLLGATE_DB: dbPath, TOLLGATE_CONTROL_HOST: '127.0.0.1', TOLLGATE_CONTROL_PORT: '0', TOLLGATE_ADMIN_TOKEN: ADMIN, TOLLGATE_REPORT_TOKEN: REPORT, TOLLGATE_LOG_LEVEL: 'info', TOLLGATE_DISTRIBUTION: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`control did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.once('exit', (code) => reject(new Error(`control exited ${code}: ${out}`)));
  });
  return { child, url };
}

// Recent enough for the accepted range (control/usage/report-rules.ts: a week back), one minute per batch after it.
const BASE_MINUTE = Math.floor(Date.now() / 60_000) * 60 - 2 * 86_400;
const batchIdOf = (i: number): string => i.toString(16).padStart(32, '0');
const reportOf = (i: number) => ({
  version: 1, batchId: batchIdOf(i), reporter: '00000000000000aa', dropped: 0,
  // One distinct minute per batch: its count in that minute tells whether (and how often) it was stored.
  entries: [{ minute: BASE_MINUTE + i * 60, keyId: '', apiId: '', outcome: 'rejected_auth', count: 3 }],
});

async function send(url: string, i: number): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/usage/reports`, { method: 'POST', headers: { authorization: `Bearer ${REPORT}`, 'content-type': 'application/json' }, body: JSON.stringify(reportOf(i)) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

describe('kill -9 during ingestion', sqliteOnly('a SIGKILLed process and its SQLite file'), () => {
  const dir = tempDir();
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged batch exactly once across a SIGKILL and restart', async () => {
    const dbPath = join(dir, 'tollgate.db');
    const first = await startChild(dbPath);
    children.push(first.child);
    const total = 600;
    const acked = new Set<number>();
    let next = 0;
    let killed = false;
    const exited = new Promise((r) => first.child.once('exit', r));
    // Eight senders in parallel; the kill lands while requests are in flight.
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < total) {
        const i = next++;
        if (await send(first.url, i)) acked.add(i);
        if (!killed && acked.size >= 150) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    }));
    await exited;
    assert.ok(killed, 'the service was killed mid-stream');
    assert.ok(acked.size >= 150 && acked.size < total, `${acked.size} acknowledged`);

    const second = await startChild(dbPath);
    children.push(second.child);
    try {
      const q = new URLSearchParams({
        from: new Date(BASE_MINUTE * 1000).toISOString(), to: new Date((BASE_MINUTE + total * 60) * 1000).toISOString(), granularity: 'minute',
      });
      const read = async (): Promise<Map<number, number>> => {
        const res = await fetch(`${second.url}/v1/usage?${q}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        const body = (await res.json()) as { series: { start: string; rejectedAuth: number }[] };
        return new Map(body.series.map((p) => [(Date.parse(p.start) / 1000 - BASE_MINUTE) / 60, p.rejectedAuth]));
      };
      const afterCrash = await read();
      for (const i of acked) assert.equal(afterCrash.get(i), 3, `acknowledged batch ${i} stored once`);
      for (const [i, n] of afterCrash) assert.equal(n, 3, `batch ${i} at most once`);

      // The filter retries what was not acknowledged; acknowledged ones come back as duplicates.
      for (let i = 0; i < total; i++) assert.equal(await send(second.url, i), true);
      const afterRetry = await read();
      assert.equal(afterRetry.size, total);
      for (const n of afterRetry.values()) assert.equal(n, 3);
    } finally {
      const exit = new Promise<number | null>((r) => second.child.once('exit', (code) => r(code)));
      second.child.kill('SIGTERM');
      assert.equal(await exit, 0, 'graceful shutdown on SIGTERM exits 0');
    }
  });

  it('on SIGTERM finishes in-flight reports and exits 0 with every acknowledged batch on disk', async () => {
    const dbPath = join(dir, 'graceful.db');
    const c = await startChild(dbPath);
    children.push(c.child);
    const exit = new Promise<number | null>((r) => c.child.once('exit', (code) => r(code)));
    const acked = new Set<number>();
    let next = 0;
    let signalled = false;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < 400 && c.child.exitCode === null) {
        const i = next++;
        if (await send(c.url, i)) acked.add(i);
        if (!signalled && acked.size >= 100) {
          signalled = true;
          c.child.kill('SIGTERM');
        }
      }
    }));
    assert.equal(await exit, 0);
    const db = new Database(dbPath, { readonly: true });
    try {
      const stored = new Set((db.prepare('SELECT batch_id FROM usage_batches').all() as { batch_id: string }[]).map((r) => r.batch_id));
      for (const i of acked) assert.ok(stored.has(batchIdOf(i)), `acknowledged batch ${i} on disk`);
    } finally {
      db.close();
    }
  });
});
