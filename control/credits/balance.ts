// Credit balances (docs/control.md "Credits", docs/key-feed.md "Credits"): the rules, pure. Where counting starts
// (`from`) and what the budget is at a time, what a batch of usage spends against which grant, and the feed's view of
// a balance. The store keeps balances and spend; the routes, the usage service and the key feed call these.
import { randomBytes } from 'node:crypto';
import type { CreditRefillPer, CreditSpend, FeedCredit } from '../../contracts/key-feed.js';
import type { UsageEntry } from '../../contracts/usage-report.js';
import { unitsOf } from '../usage/aggregate.js';
import { windowStart } from '../usage/windows.js';

/** Balances and refill amounts are integers 0 … 2^53−1 (contracts/key-feed.ts FeedCredit). */
export const MAX_CREDIT = Number.MAX_SAFE_INTEGER;

/** What an operator sets: a new grant every time. `refillPer` null: never refills (a prepaid balance). */
export interface CreditInput { balance: number; refillAmount: number | null; refillPer: CreditRefillPer | null }

/** A subscription's balance as stored. `since`: a minute boundary (unix s); `updatedAt`: when it was set. */
export interface CreditBalance extends CreditInput { planId: string; consumerId: string; grant: string; since: number; updatedAt: number }

/** What counting needs of a balance: its grant, since and refill period. */
export type CreditTerms = Pick<CreditBalance, 'grant' | 'since' | 'refillPer'>;

/** A balance as an operator reads it at a time: spent and remaining since `from`. */
export interface CreditAccount extends CreditBalance { from: number; budget: number; spent: number; remaining: number }

/** Units one reporter's allowed requests spent against a grant since `from` (a refill boundary, or the grant's since). */
export interface CreditAdd { grant: string; from: number; reporter: string; units: number }

/** A new grant id: 16 base64url characters (the contract allows 32 of [A-Za-z0-9_-]). */
export function newGrant(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * The minute boundary a balance set at `now` counts from. Usage already stored for that minute counts against the new
 * grant too: conservative (a request is never admitted twice over), never generous.
 */
export const grantSince = (now: number): number => Math.floor(now / 60) * 60;

/** Where counting stands at `t`: the grant's `since`, or the latest refill boundary after it. */
export function creditFrom(terms: Pick<CreditTerms, 'since' | 'refillPer'>, t: number): number {
  if (terms.refillPer === null) return terms.since;
  return Math.max(terms.since, windowStart(terms.refillPer, t));
}

/** The budget at `t`: `balance` until the first refill boundary after `since`, then `refillAmount` each period. */
export function creditBudget(b: CreditInput & { since: number }, t: number): number {
  return creditFrom(b, t) > b.since ? b.refillAmount ?? 0 : b.balance;
}

/** A balance with what was spent since `from` (`spent`: the store's units for that grant and `from`). */
export function creditAccount(b: CreditBalance, spent: number, t: number): CreditAccount {
  const budget = creditBudget(b, t);
  return { ...b, from: creditFrom(b, t), budget, spent, remaining: Math.max(0, budget - spent) };
}

/** Why an input breaks a rule the schema cannot say, or undefined (the caller answers 422). */
export function creditInputProblem(input: { balance: number; refillAmount?: number | null; refillPer?: string | null }): string | undefined {
  const amount = (name: string, v: number): string | undefined =>
    (Number.isInteger(v) && v >= 0 && v <= MAX_CREDIT ? undefined : `${name}: must be an integer from 0 to ${MAX_CREDIT}`);
  const bad = amount('balance', input.balance) ?? (input.refillAmount == null ? undefined : amount('refillAmount', input.refillAmount));
  if (bad !== undefined) return bad;
  const hasAmount = input.refillAmount != null;
  const hasPer = input.refillPer != null;
  if (hasAmount && !hasPer) return 'refillAmount: needs refillPer (the period it refills at)';
  if (hasPer && !hasAmount) return 'refillPer: needs refillAmount (what the balance becomes at each boundary)';
  return undefined;
}

export const subscriptionOf = (planId: string, consumerId: string): string => `${planId}/${consumerId}`;

/** The feed's form of a balance (contracts/key-feed.ts FeedCredit; "" for no refill period). */
export function feedCredit(b: Pick<CreditBalance, 'planId' | 'consumerId' | 'grant' | 'balance' | 'refillAmount' | 'refillPer' | 'since'>): FeedCredit {
  return [subscriptionOf(b.planId, b.consumerId), b.grant, b.balance, b.refillAmount ?? 0, b.refillPer ?? '', b.since];
}

/** What counting needs to know per key: its subscription and that subscription's balance, if any. */
export interface CreditKeyFacts { planId: string; consumerId: string; credit?: CreditTerms }

/**
 * What `reporter`'s entries spend against their subscriptions' grants: units of allowed requests (units ?? count) for
 * minutes from the grant's `since` on, per grant and `from` (the refill period each minute falls in). Entries of a
 * period that had ended by `now` are left out: replies only ever give the current period, so they would be written and
 * never read. Subscriptions without a balance add nothing (the common case costs one map lookup per entry).
 */
export function creditAdds(entries: readonly UsageEntry[], facts: ReadonlyMap<string, CreditKeyFacts>, reporter: string, now: number): CreditAdd[] {
  const byId = new Map<string, CreditAdd>();
  for (const e of entries) {
    if (e.keyId === '') continue;
    const c = facts.get(e.keyId)?.credit;
    if (c === undefined || e.minute < c.since) continue;
    const units = unitsOf(e);
    if (units === 0) continue;
    const from = creditFrom(c, e.minute);
    if (from < creditFrom(c, now)) continue;
    const id = `${c.grant}\u0000${from}`;
    const add = byId.get(id);
    if (add !== undefined) add.units += units;
    else byId.set(id, { grant: c.grant, from, reporter, units });
  }
  return [...byId.values()];
}

/** Spend rows of a refilling grant older than its current period are never read again: where to cut, per grant. */
export function creditPrune(adds: readonly CreditAdd[], facts: Iterable<CreditKeyFacts>, now: number): { grant: string; before: number }[] {
  const touched = new Set(adds.map((a) => a.grant));
  const out = new Map<string, number>();
  for (const f of facts) {
    const c = f.credit;
    if (c === undefined || c.refillPer === null || !touched.has(c.grant)) continue;
    out.set(c.grant, creditFrom(c, now));
  }
  return [...out].map(([grant, before]) => ({ grant, before }));
}

/** The spend entries of a reply, for these balances' current periods: `others(i)` is the fleet's units but the asker's. */
export function creditSpendOf(balances: readonly (CreditTerms & { planId: string; consumerId: string })[], others: readonly number[], now: number): CreditSpend[] {
  return balances.map((b, i) => ({ subscription: subscriptionOf(b.planId, b.consumerId), grant: b.grant, from: creditFrom(b, now), others: others[i] ?? 0 }));
}
