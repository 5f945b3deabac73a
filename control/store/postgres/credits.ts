// Credit balances in PostgreSQL: as store/sqlite/credits.ts, for several replicas writing at once. Every write takes
// the key feed's lock (revisions in commit order) and records the change in the feed's log and digests in its own
// transaction. The spend lives with usage (usage.ts).
import type pg from 'pg';
import { NotFoundError, ProblemError } from '../../errors.js';
import { feedCredit, grantSince, newGrant, subscriptionOf, type CreditBalance, type CreditInput } from '../../credits/balance.js';
import { creditFromRow, feedCreditOfRow, type CreditRow } from '../credit-row.js';
import type { CreditRepository } from '../repository.js';
import { transaction, type Queryable } from './connection.js';
import { lockKeyFeed, recordCreditWrites } from './keyfeed.js';
import type { Clock, OnChange } from './shared.js';

/**
 * Removes the balances of a consumer or a plan (its deletion), logging each as removed and dropping its spend. Call
 * inside the deleting transaction, holding lockKeyFeed, before the row they reference goes. Returns how many.
 */
export async function removeCreditsOf(c: Queryable, column: 'consumer_id' | 'plan_id', id: string, now: number): Promise<number> {
  const rows = (await c.query<CreditRow>(`DELETE FROM credit_balances WHERE ${column} = $1 RETURNING *`, [id])).rows;
  if (rows.length === 0) return 0;
  await c.query('DELETE FROM credit_spend WHERE grant_id = ANY($1)', [rows.map((r) => r.grant_id)]);
  await recordCreditWrites(c, rows.map((r) => ({ op: 'remove', credit: feedCreditOfRow(r), was: feedCreditOfRow(r) })), now);
  return rows.length;
}

export class PostgresCredits implements CreditRepository {
  constructor(private readonly pool: pg.Pool, private readonly now: Clock, private readonly changed: OnChange) {}

  private async row(q: Queryable, consumerId: string, planId: string, forUpdate = false): Promise<CreditRow | undefined> {
    return (await q.query<CreditRow>(`SELECT * FROM credit_balances WHERE subscription = $1${forUpdate ? ' FOR UPDATE' : ''}`, [subscriptionOf(planId, consumerId)])).rows[0];
  }

  async set(consumerId: string, planId: string, input: CreditInput): Promise<CreditBalance> {
    const t = this.now();
    const balance = await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      if ((await c.query('SELECT 1 FROM consumers WHERE id = $1 FOR SHARE', [consumerId])).rows.length === 0) {
        throw new ProblemError(422, 'Unknown reference', `consumerId: consumer '${consumerId}' does not exist`);
      }
      if ((await c.query('SELECT 1 FROM plans WHERE id = $1 FOR SHARE', [planId])).rows.length === 0) {
        throw new ProblemError(422, 'Unknown reference', `planId: plan '${planId}' does not exist`);
      }
      const old = await this.row(c, consumerId, planId, true);
      const next: CreditBalance = { planId, consumerId, grant: newGrant(), ...input, since: grantSince(t), updatedAt: t };
      await c.query(`INSERT INTO credit_balances (subscription, plan_id, consumer_id, grant_id, balance, refill_amount, refill_per, since, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (subscription) DO UPDATE SET grant_id = excluded.grant_id, balance = excluded.balance,
        refill_amount = excluded.refill_amount, refill_per = excluded.refill_per, since = excluded.since, updated_at = excluded.updated_at`,
      [subscriptionOf(planId, consumerId), planId, consumerId, next.grant, next.balance, next.refillAmount, next.refillPer, next.since, t]);
      // The old grant's spend is never read again: counting restarts with the new one.
      if (old !== undefined) await c.query('DELETE FROM credit_spend WHERE grant_id = $1', [old.grant_id]);
      await recordCreditWrites(c, [{ op: 'set', credit: feedCredit(next), was: old === undefined ? null : feedCreditOfRow(old) }], t);
      return next;
    });
    this.changed();
    return balance;
  }

  async get(consumerId: string, planId: string): Promise<CreditBalance> {
    const r = await this.row(this.pool, consumerId, planId);
    if (r === undefined) throw new NotFoundError('credit balance', subscriptionOf(planId, consumerId));
    return creditFromRow(r);
  }

  async listForConsumer(consumerId: string): Promise<CreditBalance[]> {
    if ((await this.pool.query('SELECT 1 FROM consumers WHERE id = $1', [consumerId])).rows.length === 0) throw new NotFoundError('consumer', consumerId);
    return (await this.pool.query<CreditRow>('SELECT * FROM credit_balances WHERE consumer_id = $1 ORDER BY plan_id COLLATE "C"', [consumerId])).rows.map(creditFromRow);
  }

  async remove(consumerId: string, planId: string): Promise<void> {
    const t = this.now();
    await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      const r = (await c.query<CreditRow>('DELETE FROM credit_balances WHERE subscription = $1 RETURNING *', [subscriptionOf(planId, consumerId)])).rows[0];
      if (r === undefined) throw new NotFoundError('credit balance', subscriptionOf(planId, consumerId));
      await c.query('DELETE FROM credit_spend WHERE grant_id = $1', [r.grant_id]);
      await recordCreditWrites(c, [{ op: 'remove', credit: feedCreditOfRow(r), was: feedCreditOfRow(r) }], t);
    });
    this.changed();
  }
}
