// The interleaving scheduler on its own: it never preempts into the calling VM or a busy one, stays within its depth
// bound, and replays the same schedule for the same seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interleaver, seededRandom } from '../../../host/runtime/interleave.js';

interface FakeVm { name: string; busy: boolean }

test('seededRandom is reproducible and in [0, 1)', () => {
  const a = seededRandom(5);
  const b = seededRandom(5);
  const xs = Array.from({ length: 100 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(xs, Array.from({ length: 100 }, seededRandom(6)));
});

test('never runs work of the calling VM or of a busy VM; a taken item does not run again', () => {
  const current: FakeVm = { name: 'w0', busy: true };
  const busy: FakeVm = { name: 'w1', busy: true };
  const idle: FakeVm = { name: 'w2', busy: false };
  const ran: string[] = [];
  const s = new Interleaver<FakeVm>(1, 2, 1);
  s.enqueue({ vm: current, run: () => ran.push('same') });
  s.enqueue({ vm: busy, run: () => ran.push('busy') });
  const item = { vm: idle, run: () => ran.push('idle') };
  s.enqueue(item);
  s.maybeRun(current);
  assert.deepEqual(ran, ['idle']);
  assert.equal(s.take(item), false, 'already ran as a preemption');
  s.maybeRun(current);
  assert.deepEqual(ran, ['idle'], 'nothing else is eligible');
});

test('nested preemptions stop at the depth bound', () => {
  const vms: FakeVm[] = Array.from({ length: 6 }, (_, n) => ({ name: `w${n}`, busy: false }));
  const s = new Interleaver<FakeVm>(3, 2, 1);
  let maxDepth = 0;
  let depth = 0;
  for (const vm of vms.slice(1)) {
    s.enqueue({
      vm,
      run: () => {
        depth++;
        maxDepth = Math.max(maxDepth, depth);
        vm.busy = true;
        s.maybeRun(vm); // the preempted work touches shared data too
        vm.busy = false;
        depth--;
      },
    });
  }
  s.maybeRun(vms[0]!);
  assert.equal(maxDepth, 2);
  assert.equal(s.preemptions, 2);
});
