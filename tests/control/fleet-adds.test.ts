// Fleet additions leave out windows that had ended when the report arrived: replies only give current windows, so
// those counts would be written and never read.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fleetAdds } from '../../control/usage/fleet.js';
import type { KeyFacts } from '../../control/store/repository.js';

const facts = new Map<string, KeyFacts>([['k1', { keyId: 'k1', planId: 'pln', consumerId: 'con', planApiIds: ['api_a'], limits: [{ requests: 100, per: 'minute' }, { requests: 1000, per: 'day' }] }]]);
const NOW = 1_767_225_600 + 86_400 + 3 * 3600 + 30 * 60 + 20; // 2026-01-02 03:30:20 UTC
const minute = (t: number): number => t - (t % 60);
const allowed = (m: number, count: number) => ({ minute: m, keyId: 'k1', apiId: 'api_a', outcome: 'allowed' as const, count });

describe('fleet additions and time', () => {
  it('keeps the current (and a skewed future) window, drops ended minutes and days', () => {
    const entries = [allowed(minute(NOW), 3), allowed(minute(NOW) - 60, 5), allowed(minute(NOW) + 120, 2), allowed(minute(NOW) - 86_400, 7)];
    const adds = fleetAdds(entries, facts, 't:r', NOW).map((a) => [a.per, a.windowStart - minute(NOW), a.count]);
    const today = NOW - (NOW % 86_400);
    assert.deepEqual(adds.filter(([per]) => per === 'minute'), [['minute', 0, 3], ['minute', 120, 2]]);
    assert.deepEqual(adds.filter(([per]) => per === 'day'), [['day', today - minute(NOW), 10]], 'yesterday\'s day window is left out');
  });

  it('keeps every window without a time (as before)', () => {
    const adds = fleetAdds([allowed(minute(NOW) - 60, 5)], facts, 't:r');
    assert.deepEqual(adds.map((a) => a.per).sort(), ['day', 'minute']);
  });
});
