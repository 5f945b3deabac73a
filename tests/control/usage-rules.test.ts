// The usage service's rules without a database: fleet caps and additions, scope, report checks and the summary.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { capsOf, fleetAdds, planInScope, subscriptionOf } from '../../control/usage/fleet.js';
import { impossibleReport, minuteAccepted, CLOCK_SKEW_S, MAX_REPORT_AGE_S } from '../../control/usage/report-rules.js';
import { summarize } from '../../control/usage/summary.js';
import type { KeyFacts } from '../../control/store/repository.js';
import type { UsageEntry, UsageReport } from '../../control/store/types.js';

const facts = (keyId: string, planId: string, consumerId: string): KeyFacts => ({
  keyId, planId, consumerId, planApiIds: ['api_a'],
  limits: [{ requests: 5, per: 'second' }, { requests: 100, per: 'hour' }, { requests: 40, per: 'hour' }, { requests: 1000, per: 'month' }],
});
const entry = (keyId: string, count: number, minute = 1_767_225_600, outcome: UsageEntry['outcome'] = 'allowed'): UsageEntry => ({ minute, keyId, apiId: 'api_a', outcome, count });

describe('fleet rules', () => {
  it('caps each window size at the largest limit of that size; second limits are not shared', () => {
    assert.deepEqual([...capsOf(facts('k', 'p', 'c').limits)], [['hour', 100], ['month', 1000]]);
  });

  it('adds allowed requests per subscription and window: two keys of one subscription add to the same window', () => {
    const f = new Map([['k1', facts('k1', 'pln', 'con')], ['k2', facts('k2', 'pln', 'con')]]);
    const adds = fleetAdds([entry('k1', 3), entry('k2', 4), entry('k1', 9, 1_767_225_600, 'rejected_quota')], f, 'tgt:r');
    const hour = adds.filter((a) => a.per === 'hour');
    assert.equal(hour.reduce((n, a) => n + a.count, 0), 7, 'rejected requests never consumed quota');
    assert.ok(hour.every((a) => a.planId === 'pln' && a.consumerId === 'con' && a.cap === 100 && a.reporter === 'tgt:r'));
    assert.deepEqual([...new Set(adds.map((a) => a.per))].sort(), ['hour', 'month']);
    assert.equal(subscriptionOf('pln', 'con'), 'pln/con');
  });

  it('scopes plans by the target\'s APIs (any plan when the target covers every API)', () => {
    assert.equal(planInScope(['api_a', 'api_b'], { targetId: 't', apiIds: new Set(['api_b']) }), true);
    assert.equal(planInScope(['api_a'], { targetId: 't', apiIds: new Set(['api_b']) }), false);
    assert.equal(planInScope([], { targetId: 't', apiIds: null }), true);
  });
});

describe('report rules', () => {
  const report = (entries: UsageEntry[], dropped = 0): UsageReport => ({ version: 1, batchId: 'a'.repeat(32), reporter: 'b'.repeat(16), entries, dropped });

  it('accepts what a correct filter sends and names what it never sends', () => {
    assert.equal(impossibleReport(report([{ ...entry('k', 3), status: { '2xx': 2, '5xx': 1 } }])), undefined);
    assert.match(impossibleReport(report([{ ...entry('k', 3), status: { '2xx': 4 } }]))!, /entries\[0\]\.status/);
    assert.match(impossibleReport(report([{ ...entry('k', 3, 60, 'rejected_auth'), status: { '2xx': 1 } }]))!, /only allowed/);
    assert.match(impossibleReport(report([entry('k', 1), entry('k', 2)]))!, /entries\[1\]/);
    assert.match(impossibleReport(report([], 2 ** 32 - 1))!, /dropped/);
  });

  it('accepts minutes from a week back to the clock-skew allowance ahead', () => {
    const now = 1_767_225_600;
    assert.equal(minuteAccepted(entry('k', 1, now - MAX_REPORT_AGE_S), now), true);
    assert.equal(minuteAccepted(entry('k', 1, now - MAX_REPORT_AGE_S - 60), now), false);
    assert.equal(minuteAccepted(entry('k', 1, now + CLOCK_SKEW_S), now), true);
    assert.equal(minuteAccepted(entry('k', 1, now + CLOCK_SKEW_S + 60), now), false);
  });
});

describe('summary', () => {
  it('adds rows into totals and one point per bucket, ignoring unknown outcomes', () => {
    const zero = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    const s = summarize([
      { start: 60, outcome: 'allowed', count: 5, units: 5, status: { ...zero, '2xx': 4, '5xx': 1 } },
      { start: 60, outcome: 'rejected_auth', count: 2, units: 0, status: zero },
      { start: 120, outcome: 'mystery', count: 9, units: 0, status: zero },
    ]);
    assert.deepEqual(s.totals, { allowed: 5, rejectedQuota: 0, rejectedAuth: 2, rejectedForbidden: 0, units: 5, wouldReject: 0 });
    assert.deepEqual(s.series.map((p) => p.start), [60, 120]);
    assert.equal(s.upstreamStatus['5xx'], 1);
  });
});
