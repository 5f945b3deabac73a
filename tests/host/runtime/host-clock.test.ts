// The host's clock when the host closes: every timer stops and none can be armed again, in both modes, so a callback
// that arrives late (an http_call answer re-arming a tick) cannot keep the process alive. The mesh relies on this to
// exit when its listener cannot open (tests/e2e/start-cli.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostClock } from '../../../host/runtime/host-clock.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('HostClock.cancelAll (the host closing)', () => {
  it('real: stops one-shot and repeating timers, and arms nothing afterwards', async () => {
    const clock = new HostClock('real', Date.now());
    let fired = 0;
    clock.schedule(20, () => fired++);
    clock.schedule(5, () => fired++, 5);
    await sleep(12);
    const before = fired;
    assert.ok(before >= 1, 'the repeating timer ran before the close');
    clock.cancelAll();
    clock.schedule(1, () => fired++);
    clock.schedule(1, () => fired++, 1);
    await sleep(40);
    assert.equal(fired, before, 'nothing fired after cancelAll');
  });

  it('virtual: the same, with time advanced past every due time', async () => {
    const clock = new HostClock('virtual', 0);
    let fired = 0;
    clock.schedule(10, () => fired++, 10);
    await clock.advance(25);
    assert.equal(fired, 2);
    clock.cancelAll();
    clock.schedule(1, () => fired++);
    await clock.advance(100);
    assert.equal(fired, 2);
  });

  it('real: a cancelled repeating timer whose first firing is running does not start repeating', async () => {
    const clock = new HostClock('real', Date.now());
    let fired = 0;
    const handle = clock.schedule(5, () => { fired++; handle.cancel(); }, 5);
    await sleep(40);
    assert.equal(fired, 1);
  });
});
