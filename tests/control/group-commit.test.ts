import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from '../../control/store/sqlite/wal-sync.js';
import { sqliteOnly } from './helpers.js';

/** A sync whose completion the test controls, recording when each one started. */
function controlledSync(): { sync: () => Promise<void>; started: number; finishCurrent(): void; fail: boolean } {
  const state = {
    started: 0,
    fail: false,
    pending: [] as (() => void)[],
    failing: [] as ((e: Error) => void)[],
    sync: (): Promise<void> => {
      state.started++;
      return new Promise<void>((resolve, reject) => {
        state.pending.push(resolve);
        state.failing.push(reject);
      });
    },
    finishCurrent: (): void => {
      const resolve = state.pending.shift()!;
      const reject = state.failing.shift()!;
      if (state.fail) reject(new Error('EIO'));
      else resolve();
    },
  };
  return state;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('GroupCommit', sqliteOnly('the WAL group commit'), () => {
  it('starts a sync for a lone flush and shares one follow-up among flushes that arrive meanwhile', async () => {
    const s = controlledSync();
    const g = new GroupCommit(s.sync);
    let firstDone = false;
    const first = g.flush().then(() => { firstDone = true; });
    assert.equal(s.started, 1);
    const late = [g.flush(), g.flush(), g.flush()];
    let lateDone = 0;
    for (const p of late) void p.then(() => { lateDone++; });
    assert.equal(s.started, 1, 'no second sync while the first runs');
    s.finishCurrent();
    await first;
    await tick();
    assert.ok(firstDone);
    assert.equal(lateDone, 0, 'late callers wait for a sync that started after them');
    assert.equal(s.started, 2, 'exactly one follow-up sync');
    s.finishCurrent();
    await Promise.all(late);
    assert.equal(lateDone, 3);
    assert.equal(s.started, 2);
  });

  it('rejects the callers of a failed sync and recovers for the next ones', async () => {
    const s = controlledSync();
    const g = new GroupCommit(s.sync);
    s.fail = true;
    const failed = g.flush();
    s.finishCurrent();
    await assert.rejects(failed, /EIO/);
    s.fail = false;
    const ok = g.flush();
    s.finishCurrent();
    await ok;
    assert.equal(s.started, 2);
  });
});
