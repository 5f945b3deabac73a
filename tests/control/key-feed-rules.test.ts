// The key feed's pure rules (control/keyfeed/): collapse, 410 decisions, incremental digests, NDJSON line splitting,
// and the sweeper's rounds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_SET_DIGEST, setDigest, type FeedKey } from '../../contracts/key-feed.js';
import { applyWrites, collapse, scopeDigest, scopePlans, snapshotRequired, targetsMovedByPlan, type KeyWrite } from '../../control/keyfeed/rules.js';
import { MAX_IMPORT_LINE_BYTES, forEachLine, parseImportLine } from '../../control/keyfeed/import-line.js';
import { FeedSweeper, SWEEP_BATCH } from '../../control/keyfeed/sweeper.js';
import type { KeyFeedRepository } from '../../control/store/repository.js';

const key = (id: string, plan = 'p1', exp = 0): FeedKey => [`${id}`.padEnd(43, 'x'), id, 'c1', plan, exp];

describe('key feed rules', () => {
  it('collapse keeps each key once at its latest state, in the order of latest revisions, within the scope', () => {
    const rows = [
      { revision: 1, op: 'add' as const, key: key('a') },
      { revision: 2, op: 'add' as const, key: key('b') },
      { revision: 3, op: 'rotate' as const, key: key('a', 'p1', 99) },
      { revision: 4, op: 'add' as const, key: key('c', 'p2') },
      { revision: 5, op: 'revoke' as const, key: key('b') },
    ];
    assert.deepEqual(collapse(rows, null).map((c) => [c.op, c.key[1]]), [['rotate', 'a'], ['add', 'c'], ['revoke', 'b']]);
    assert.deepEqual(collapse(rows, ['p2']).map((c) => [c.op, c.key[1]]), [['add', 'c']]);
    // A key moved from p1 to p2: logged as a removal under p1, then its new state under p2.
    const moved = [{ revision: 6, op: 'revoke' as const, key: key('a') }, { revision: 7, op: 'add' as const, key: key('a', 'p2') }];
    assert.deepEqual(collapse(moved, ['p1']).map((c) => c.op), ['revoke']);
    assert.deepEqual(collapse(moved, ['p2']).map((c) => c.op), ['add']);
    assert.deepEqual(collapse(moved, null).map((c) => [c.op, c.key[3]]), [['add', 'p2']]);
  });

  it('snapshotRequired: epoch, newer than head, older than the horizon, before a scope change', () => {
    const st = { epoch: 'e1', head: 100, scopeRevision: 40, horizon: 20 };
    assert.equal(snapshotRequired(st, 'e1', 100), undefined);
    assert.equal(snapshotRequired(st, 'e1', 40), undefined);
    assert.match(snapshotRequired(st, 'e2', 50)!, /epoch/);
    assert.match(snapshotRequired(st, 'e1', 101)!, /newer/);
    assert.match(snapshotRequired(st, 'e1', 19)!, /older/);
    assert.match(snapshotRequired(st, 'e1', 39)!, /scope/);
  });

  it('incremental plan digests equal the digest computed from scratch', () => {
    const set = new Map<string, FeedKey>();
    let digests = new Map<string, string>();
    let n = 0;
    for (let i = 0; i < 200; i++) {
      const ids = [...set.keys()];
      const writes: KeyWrite[] = [];
      if (i % 3 !== 2 || ids.length === 0) {
        const k = key(`k${n++}`, i % 2 === 0 ? 'p1' : 'p2');
        writes.push({ op: 'add', key: k, was: null });
        set.set(k[1], k);
      } else {
        const was = set.get(ids[i % ids.length]!)!;
        if (i % 2 === 0) {
          const k: FeedKey = [was[0], was[1], was[2], was[3], 1000 + i];
          writes.push({ op: 'rotate', key: k, was });
          set.set(k[1], k);
        } else {
          writes.push({ op: 'revoke', key: was, was });
          set.delete(was[1]);
        }
      }
      const prev = digests;
      digests = new Map([...prev, ...applyWrites(writes, (p) => prev.get(p) ?? EMPTY_SET_DIGEST)]);
    }
    assert.equal(scopeDigest(digests, null), setDigest(set.values()));
    assert.equal(scopeDigest(digests, ['p2']), setDigest([...set.values()].filter((k) => k[3] === 'p2')));
    assert.equal(scopeDigest(digests, []), EMPTY_SET_DIGEST);
  });

  it('targetsMovedByPlan: only restricted targets whose scope gains or loses the plan', () => {
    const targets = [{ id: 'all', apiIds: [] }, { id: 'one', apiIds: ['a1'] }, { id: 'both', apiIds: ['a1', 'a2'] }, { id: 'three', apiIds: ['a3'] }];
    assert.deepEqual(targetsMovedByPlan(targets, ['a1'], ['a2']), ['one']);
    assert.deepEqual(targetsMovedByPlan(targets, ['a1'], ['a1', 'a3']), ['three']);
    assert.deepEqual(targetsMovedByPlan(targets, ['a1'], ['a1']), []);
  });

  it('scopePlans: a plan is in scope when it includes one of the target\'s APIs', () => {
    const plans = new Map([['p1', ['a1']], ['p2', ['a2', 'a3']], ['p3', []]]);
    assert.equal(scopePlans(plans, { targetId: 't', apiIds: null }), null);
    assert.deepEqual(scopePlans(plans, { targetId: 't', apiIds: new Set(['a3']) }), ['p2']);
  });
});

describe('key import lines', () => {
  const chunks = async function* (parts: string[]): AsyncGenerator<Buffer> {
    for (const p of parts) yield Buffer.from(p);
  };
  const collect = async (parts: string[]): Promise<{ lines: [number, string][]; tooLong: number[]; n: number }> => {
    const lines: [number, string][] = [];
    const tooLong: number[] = [];
    const n = await forEachLine(chunks(parts), (l, i) => { lines.push([i, l]); }, (i) => { tooLong.push(i); });
    return { lines, tooLong, n };
  };

  it('splits lines across chunks, accepts CRLF and a last line without newline', async () => {
    const r = await collect(['{"a"', ':1}\r\n{"b":2}\n', '', 'last']);
    assert.deepEqual(r.lines, [[1, '{"a":1}'], [2, '{"b":2}'], [3, 'last']]);
    assert.equal(r.n, 3);
  });

  it('drops an over-long line without buffering it, and counts on', async () => {
    const long = 'x'.repeat(MAX_IMPORT_LINE_BYTES + 10);
    const r = await collect(['ok\n', long.slice(0, 3000), long.slice(3000), '\nnext\n', long]);
    assert.deepEqual(r.lines, [[1, 'ok'], [3, 'next']]);
    assert.deepEqual(r.tooLong, [2, 4]);
  });

  it('parseImportLine validates every field', () => {
    const digest = 'A'.repeat(43);
    assert.deepEqual(parseImportLine(JSON.stringify({ digest, consumerId: 'c', planId: 'p' })), { digest, consumerId: 'c', planId: 'p', expiresAt: null, prefix: '' });
    assert.deepEqual(parseImportLine(JSON.stringify({ digest, consumerId: 'c', planId: 'p', id: 'k1', expiresAt: '2030-01-01T00:00:00Z', prefix: 'tgk_ab' })),
      { id: 'k1', digest, consumerId: 'c', planId: 'p', expiresAt: 1893456000, prefix: 'tgk_ab' });
    for (const bad of ['[]', 'null', '"x"', '{', JSON.stringify({ digest: `${digest}=`, consumerId: 'c', planId: 'p' }),
      JSON.stringify({ digest, consumerId: 'c d', planId: 'p' }), JSON.stringify({ digest, consumerId: 'c', planId: 'p', expiresAt: 5 }),
      JSON.stringify({ digest, consumerId: 'c', planId: 'p', key: 'plaintext' }), JSON.stringify({ digest, consumerId: 'c', planId: 'p', prefix: 'é' })]) {
      assert.ok('error' in parseImportLine(bad), bad);
    }
  });
});

describe('expiry sweeper', () => {
  it('sweeps in batches until a short one, then prunes; stop waits for a round in progress', async () => {
    const calls: string[] = [];
    let left = SWEEP_BATCH * 2 + 5;
    const feed = {
      sweepExpired: async (_now: number, limit: number) => {
        const n = Math.min(left, limit);
        left -= n;
        calls.push(`sweep ${n}`);
        return n;
      },
      prune: async () => { calls.push('prune'); return 0; },
    } as unknown as KeyFeedRepository;
    const log = { warn: () => undefined } as never;
    const sweeper = new FeedSweeper(feed, log, 60_000);
    assert.equal(await sweeper.sweep(), SWEEP_BATCH * 2 + 5);
    assert.deepEqual(calls, [`sweep ${SWEEP_BATCH}`, `sweep ${SWEEP_BATCH}`, 'sweep 5', 'prune']);
    calls.length = 0;
    sweeper.start();
    await new Promise((r) => setTimeout(r, 20));
    await sweeper.stop();
    assert.deepEqual(calls, ['sweep 0', 'prune']);
  });

  it('a failing round is logged and the next one still runs', async () => {
    let rounds = 0;
    const warnings: string[] = [];
    const feed = { sweepExpired: async () => { rounds++; throw new Error('database is locked'); }, prune: async () => 0 } as unknown as KeyFeedRepository;
    const sweeper = new FeedSweeper(feed, { warn: (_o: unknown, m: string) => warnings.push(m) } as never, 10);
    sweeper.start();
    await new Promise((r) => setTimeout(r, 100));
    await sweeper.stop();
    assert.ok(rounds >= 2, `${rounds} rounds`);
    assert.ok(warnings.length >= 2);
  });
});
