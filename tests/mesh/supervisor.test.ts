import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { restartDelay, supervise } from '../../mesh/supervisor.js';

// A stand-in child: a node process that idles until killed (or exits with a given code after a delay).
const idleChild = ['-e', 'setInterval(() => {}, 1000); process.on("SIGTERM", () => process.exit(0));'];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('supervise', () => {
  it('restarts a child that dies unexpectedly, with a new pid', async () => {
    const pids: number[] = [];
    let spawned: () => void = () => {};
    const sup = supervise({
      name: 'stand-in', command: process.execPath, args: idleChild, stdio: 'ignore', minDelayMs: 10,
      onSpawn: (child) => { pids.push(child.pid!); spawned(); },
    });
    try {
      const first = sup.pid!;
      const next = new Promise<void>((resolve) => { spawned = resolve; });
      process.kill(first, 'SIGKILL');
      await next;
      assert.equal(pids.length, 2);
      assert.notEqual(pids[1], first);
      assert.equal(sup.restarts, 1);
      assert.equal(sup.pid, pids[1]);
    } finally {
      await sup.stop();
    }
    assert.equal(alive(pids[1]!), false);
  });

  it('does not restart after stop(), and stop() waits for the exit (SIGTERM honoured)', async () => {
    const exits: Array<{ restarting: boolean; signal: string | null; code: number | null }> = [];
    let ready: () => void = () => {};
    const handlerInstalled = new Promise<void>((resolve) => { ready = resolve; });
    const sup = supervise({
      name: 'stand-in', command: process.execPath, stdio: ['ignore', 'pipe', 'ignore'], onExit: (e) => exits.push(e),
      args: ['-e', 'process.on("SIGTERM", () => process.exit(0)); console.log("ready"); setInterval(() => {}, 1000);'],
      onSpawn: (child) => child.stdout!.once('data', () => ready()),
    });
    const pid = sup.pid!;
    await handlerInstalled;
    await sup.stop();
    assert.equal(alive(pid), false);
    assert.deepEqual(exits.map((e) => [e.restarting, e.code]), [[false, 0]]);
    assert.equal(sup.pid, undefined);
  });

  it('escalates to SIGKILL when the child ignores SIGTERM', async () => {
    let ready: () => void = () => {};
    const handlerInstalled = new Promise<void>((resolve) => { ready = resolve; });
    const sup = supervise({
      name: 'stubborn', command: process.execPath, stdio: ['ignore', 'pipe', 'ignore'], stopTimeoutMs: 300,
      args: ['-e', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000);'],
      onSpawn: (child) => child.stdout!.once('data', () => ready()),
    });
    await handlerInstalled;
    const pid = sup.pid!;
    await sup.stop();
    assert.equal(alive(pid), false);
  });

  it('keeps restarting a crash-looping child with back-off', async () => {
    let spawns = 0;
    let enough: () => void = () => {};
    const done = new Promise<void>((resolve) => { enough = resolve; });
    const sup = supervise({
      name: 'crasher', command: process.execPath, args: ['-e', 'process.exit(3)'], stdio: 'ignore', minDelayMs: 5, maxDelayMs: 20,
      onSpawn: () => { if (++spawns === 4) enough(); },
    });
    await done;
    await sup.stop();
    assert.ok(sup.restarts >= 3);
  });

  it('survives a command that cannot be spawned', async () => {
    const errors: unknown[] = [];
    const sup = supervise({ name: 'missing', command: '/nonexistent/tollgate-binary', args: [], stdio: 'ignore', minDelayMs: 10_000, onExit: (e) => errors.push(e) });
    await new Promise((r) => setTimeout(r, 100));
    await sup.stop();
    assert.equal(errors.length, 1);
  });
});

describe('restartDelay', () => {
  it('doubles from the minimum and caps at the maximum', () => {
    assert.deepEqual([0, 1, 2, 3, 10, 100].map((a) => restartDelay(a, 250, 5000)), [250, 500, 1000, 2000, 5000, 5000]);
  });
});
