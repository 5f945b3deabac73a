// A credit_balances row as both backends store it, the record it reads as, and the credit log's rows.
import type { CreditRefillPer, FeedCredit } from '../../contracts/key-feed.js';
import type { CreditBalance } from '../credits/balance.js';
import type { LoggedCredit } from '../keyfeed/rules.js';

export interface CreditRow {
  subscription: string; plan_id: string; consumer_id: string; grant_id: string; balance: number; refill_amount: number | null;
  refill_per: CreditRefillPer | null; since: number; updated_at: number;
}

export const creditFromRow = (r: CreditRow): CreditBalance => ({
  planId: r.plan_id, consumerId: r.consumer_id, grant: r.grant_id, balance: r.balance, refillAmount: r.refill_amount,
  refillPer: r.refill_per, since: r.since, updatedAt: r.updated_at,
});

/** The wire form straight from a row (contracts/key-feed.ts FeedCredit). */
export const feedCreditOfRow = (r: CreditRow): FeedCredit => [r.subscription, r.grant_id, r.balance, r.refill_amount ?? 0, r.refill_per ?? '', r.since];

/** A credit_changes row. */
export interface CreditLogRow {
  revision: number; subscription: string; plan_id: string; op: 'set' | 'remove'; grant_id: string; balance: number; refill_amount: number;
  refill_per: CreditRefillPer | ''; since: number; at: number;
}

export const loggedCredit = (r: CreditLogRow): LoggedCredit => ({
  revision: r.revision, op: r.op, credit: [r.subscription, r.grant_id, r.balance, r.refill_amount, r.refill_per, r.since],
});
