// Credit balances' rules without a database (control/credits/balance.ts, control/keyfeed/rules.ts): where counting
// starts and what the budget is across refill boundaries (UTC hour, day, month), what a batch spends against which
// grant, input rules, the digest kept by XOR against setDigest from scratch, delta collapse and log merging.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_SET_DIGEST, setDigest, type FeedCredit, type FeedKey } from '../../contracts/key-feed.js';
import type { UsageEntry } from '../../contracts/usage-report.js';
import {
  creditAccount, creditAdds, creditBudget, creditFrom, creditInputProblem, creditPrune, feedCredit, grantSince, newGrant, type CreditBalance,
} from '../../control/credits/balance.js';
import { applyCreditWrites, applyWrites, collapseCredits, mergeLogs, scopeDigest } from '../../control/keyfeed/rules.js';

const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;

describe('credit balance rules', () => {
  it('a grant counts from the minute it was set in (usage already stored that minute counts)', () => {
    assert.equal(grantSince(at(2026, 3, 5, 10, 7, 59)), at(2026, 3, 5, 10, 7));
    assert.equal(grantSince(at(2026, 3, 5, 10, 7)), at(2026, 3, 5, 10, 7));
  });

  it('a prepaid balance counts from since forever; a refilling one from the latest boundary after since', () => {
    const since = at(2026, 1, 31, 22, 30);
    assert.equal(creditFrom({ since, refillPer: null }, at(2027, 6, 1)), since);
    assert.equal(creditFrom({ since, refillPer: 'hour' }, at(2026, 1, 31, 22, 59)), since, 'before the first boundary');
    assert.equal(creditFrom({ since, refillPer: 'hour' }, at(2026, 1, 31, 23, 0)), at(2026, 1, 31, 23));
    assert.equal(creditFrom({ since, refillPer: 'day' }, at(2026, 2, 1, 0, 0, 1)), at(2026, 2, 1));
    assert.equal(creditFrom({ since, refillPer: 'month' }, at(2026, 2, 28, 23, 59)), at(2026, 2, 1));
    assert.equal(creditFrom({ since, refillPer: 'month' }, at(2026, 3, 1)), at(2026, 3, 1), 'month lengths are calendar months');
  });

  it('the budget is the balance until the first boundary after since, then the refill amount (not added)', () => {
    const b = { balance: 500, refillAmount: 100, refillPer: 'day' as const, since: at(2026, 5, 1, 12) };
    assert.equal(creditBudget(b, at(2026, 5, 1, 23, 59)), 500);
    assert.equal(creditBudget(b, at(2026, 5, 2)), 100);
    assert.equal(creditBudget(b, at(2026, 5, 9, 8)), 100);
    // Set exactly on a boundary: that boundary is not "after" since.
    assert.equal(creditBudget({ ...b, since: at(2026, 5, 1) }, at(2026, 5, 1, 5)), 500);
    assert.equal(creditBudget({ ...b, refillAmount: null, refillPer: null }, at(2030, 1, 1)), 500);
  });

  it('an account shows remaining, never below 0', () => {
    const b: CreditBalance = { planId: 'p', consumerId: 'c', grant: 'g', balance: 10, refillAmount: null, refillPer: null, since: 60, updatedAt: 60 };
    assert.deepEqual([creditAccount(b, 4, 120).remaining, creditAccount(b, 12, 120).remaining, creditAccount(b, 12, 120).spent], [6, 0, 12]);
  });

  it('input rules: integers 0 … 2^53−1, refillAmount and refillPer together', () => {
    assert.equal(creditInputProblem({ balance: 0 }), undefined);
    assert.equal(creditInputProblem({ balance: Number.MAX_SAFE_INTEGER, refillAmount: 5, refillPer: 'month' }), undefined);
    assert.match(creditInputProblem({ balance: -1 })!, /^balance: must be an integer/);
    assert.match(creditInputProblem({ balance: 1.5 })!, /^balance:/);
    assert.match(creditInputProblem({ balance: 2 ** 53 })!, /^balance:/);
    assert.match(creditInputProblem({ balance: 1, refillAmount: -3, refillPer: 'day' })!, /^refillAmount: must be/);
    assert.match(creditInputProblem({ balance: 1, refillAmount: 3 })!, /^refillAmount: needs refillPer/);
    assert.match(creditInputProblem({ balance: 1, refillPer: 'hour' })!, /^refillPer: needs refillAmount/);
    assert.equal(creditInputProblem({ balance: 1, refillAmount: null, refillPer: null }), undefined);
  });

  it('grants are opaque ids the contract allows', () => {
    const g = newGrant();
    assert.match(g, /^[A-Za-z0-9_-]{1,32}$/);
    assert.notEqual(g, newGrant());
  });

  it('spend: allowed units (units ?? count) from since on, per grant and period; others and the past add nothing', () => {
    const since = at(2026, 5, 1, 10, 30);
    const now = at(2026, 5, 1, 12, 0, 30);
    const facts = new Map([
      ['k1', { planId: 'p', consumerId: 'c', credit: { grant: 'g1', since, refillPer: 'hour' as const } }],
      ['k2', { planId: 'p', consumerId: 'c', credit: { grant: 'g1', since, refillPer: 'hour' as const } }],
      ['k3', { planId: 'q', consumerId: 'c' }],
    ]);
    const e = (keyId: string, minute: number, outcome: UsageEntry['outcome'], count: number, units?: number): UsageEntry =>
      ({ minute, keyId, apiId: 'a', outcome, count, ...(units === undefined ? {} : { units }) });
    const adds = creditAdds([
      e('k1', at(2026, 5, 1, 12, 0), 'allowed', 3, 30),
      e('k2', at(2026, 5, 1, 12, 0), 'allowed', 2),
      e('k1', at(2026, 5, 1, 12, 1), 'allowed', 1, 0),
      e('k1', at(2026, 5, 1, 12, 0), 'rejected_quota', 9),
      e('k1', at(2026, 5, 1, 11, 59), 'allowed', 5, 5), // last hour's period: ended by now
      e('k3', at(2026, 5, 1, 12, 0), 'allowed', 7, 7), // no balance
      e('k1', at(2026, 5, 1, 13, 0), 'allowed', 4, 4), // clock skew: the next period
    ], facts, 't:r', now);
    assert.deepEqual(adds, [
      { grant: 'g1', from: at(2026, 5, 1, 12), reporter: 't:r', units: 32 },
      { grant: 'g1', from: at(2026, 5, 1, 13), reporter: 't:r', units: 4 },
    ]);
    assert.deepEqual(creditPrune(adds, facts.values(), now), [{ grant: 'g1', before: at(2026, 5, 1, 12) }]);
    // A prepaid grant: minutes before since do not count.
    const prepaid = new Map([['k1', { planId: 'p', consumerId: 'c', credit: { grant: 'g2', since, refillPer: null } }]]);
    assert.deepEqual(creditAdds([e('k1', since - 60, 'allowed', 3), e('k1', since, 'allowed', 2)], prepaid, 'r', now), [{ grant: 'g2', from: since, reporter: 'r', units: 2 }]);
    assert.deepEqual(creditPrune([], prepaid.values(), now), []);
  });
});

describe('credit balances in the feed digest and deltas', () => {
  const key = (id: string, plan: string): FeedKey => [id.padEnd(43, 'x'), id, 'c1', plan, 0];
  const credit = (sub: string, grant: string, balance = 10): FeedCredit => [sub, grant, balance, 0, '', 60];

  it('plan digests kept by XOR over key and balance writes equal setDigest from scratch', () => {
    let digests = applyWrites([{ op: 'add', key: key('a', 'p1'), was: null }, { op: 'add', key: key('b', 'p2'), was: null }], () => EMPTY_SET_DIGEST);
    const cur = (p: string): string => digests.get(p) ?? EMPTY_SET_DIGEST;
    const c1 = credit('p1/c1', 'g1');
    const c1b = credit('p1/c1', 'g2', 50);
    const c2 = credit('p2/c9', 'g3');
    digests = new Map([...digests, ...applyCreditWrites([{ op: 'set', credit: c1, was: null }, { op: 'set', credit: c2, was: null }], cur)]);
    assert.equal(scopeDigest(digests, null), setDigest([key('a', 'p1'), key('b', 'p2')], [c1, c2]));
    digests = new Map([...digests, ...applyCreditWrites([{ op: 'set', credit: c1b, was: c1 }], cur)]);
    assert.equal(scopeDigest(digests, null), setDigest([key('a', 'p1'), key('b', 'p2')], [c1b, c2]));
    assert.equal(scopeDigest(digests, ['p1']), setDigest([key('a', 'p1')], [c1b]), 'a scope covers its plans\' balances only');
    digests = new Map([...digests, ...applyCreditWrites([{ op: 'remove', credit: c2, was: c2 }], cur)]);
    assert.equal(scopeDigest(digests, null), setDigest([key('a', 'p1'), key('b', 'p2')], [c1b]));
    assert.notEqual(setDigest([], [c1]), setDigest([], [c1b]), 'the grant and amounts are in the digest');
  });

  it('collapse keeps each subscription once at its latest state, within the scope', () => {
    const rows = [
      { revision: 3, op: 'set' as const, credit: credit('p1/c1', 'g1') },
      { revision: 5, op: 'set' as const, credit: credit('p2/c1', 'g2') },
      { revision: 6, op: 'set' as const, credit: credit('p1/c1', 'g3') },
      { revision: 8, op: 'remove' as const, credit: credit('p2/c1', 'g2') },
    ];
    assert.deepEqual(collapseCredits(rows, null).map((c) => [c.op, c.credit[1]]), [['set', 'g3'], ['remove', 'g2']]);
    assert.deepEqual(collapseCredits(rows, ['p2']).map((c) => [c.op, c.credit[1]]), [['remove', 'g2']]);
  });

  it('merging the key and credit logs takes the first `limit` revisions of both', () => {
    const k = [{ revision: 1 }, { revision: 2 }, { revision: 5 }];
    const c = [{ revision: 3 }, { revision: 4 }, { revision: 6 }];
    const m = mergeLogs(k, c, 4);
    assert.deepEqual([m.keys.map((r) => r.revision), m.credits.map((r) => r.revision), m.last], [[1, 2], [3, 4], 4]);
    assert.equal(mergeLogs([], [], 10).last, undefined);
    assert.equal(mergeLogs(k, c, 10).last, 6);
  });

  it('feedCredit: refill fields as the wire has them', () => {
    assert.deepEqual(feedCredit({ planId: 'p', consumerId: 'c', grant: 'g', balance: 5, refillAmount: null, refillPer: null, since: 60 }), ['p/c', 'g', 5, 0, '', 60]);
    assert.deepEqual(feedCredit({ planId: 'p', consumerId: 'c', grant: 'g', balance: 5, refillAmount: 7, refillPer: 'day', since: 60 }), ['p/c', 'g', 5, 7, 'day', 60]);
  });
});
