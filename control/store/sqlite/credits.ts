// Credit balances in SQLite: each write replaces or removes the subscription's one balance and records it in the key
// feed's log (credit_changes) and digests, in one IMMEDIATE transaction. The spend lives with usage (usage.ts).
import { NotFoundError, ProblemError } from '../../errors.js';
import { feedCredit, grantSince, newGrant, subscriptionOf, type CreditBalance, type CreditInput } from '../../credits/balance.js';
import { creditFromRow, feedCreditOfRow, type CreditRow } from '../credit-row.js';
import type { CreditRepository } from '../repository.js';
import type { Db } from './open.js';
import { recordCreditWrites } from './keyfeed.js';
import type { Clock, Durable, OnChange } from './shared.js';

/**
 * Removes the balances of a consumer or a plan (its deletion), logging each as removed and dropping its spend. Call
 * inside the deleting transaction, before the row it references goes. Returns how many.
 */
export function removeCreditsOf(db: Db, column: 'consumer_id' | 'plan_id', id: string, now: number): number {
  const rows = db.prepare(`SELECT * FROM credit_balances WHERE ${column} = ?`).all(id) as CreditRow[];
  if (rows.length === 0) return 0;
  recordCreditWrites(db, rows.map((r) => ({ op: 'remove', credit: feedCreditOfRow(r), was: feedCreditOfRow(r) })), now);
  const spend = db.prepare('DELETE FROM credit_spend WHERE grant_id = ?');
  for (const r of rows) spend.run(r.grant_id);
  db.prepare(`DELETE FROM credit_balances WHERE ${column} = ?`).run(id);
  return rows.length;
}

export class SqliteCredits implements CreditRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange, private readonly durable: Durable) {}

  private row(consumerId: string, planId: string): CreditRow | undefined {
    return this.db.prepare('SELECT * FROM credit_balances WHERE subscription = ?').get(subscriptionOf(planId, consumerId)) as CreditRow | undefined;
  }

  async set(consumerId: string, planId: string, input: CreditInput): Promise<CreditBalance> {
    const t = this.now();
    const balance = this.db.transaction((): CreditBalance => {
      if (this.db.prepare('SELECT 1 FROM consumers WHERE id = ?').get(consumerId) === undefined) {
        throw new ProblemError(422, 'Unknown reference', `consumerId: consumer '${consumerId}' does not exist`);
      }
      if (this.db.prepare('SELECT 1 FROM plans WHERE id = ?').get(planId) === undefined) {
        throw new ProblemError(422, 'Unknown reference', `planId: plan '${planId}' does not exist`);
      }
      const old = this.row(consumerId, planId);
      const next: CreditBalance = { planId, consumerId, grant: newGrant(), ...input, since: grantSince(t), updatedAt: t };
      this.db.prepare(`INSERT INTO credit_balances (subscription, plan_id, consumer_id, grant_id, balance, refill_amount, refill_per, since, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subscription) DO UPDATE SET grant_id = excluded.grant_id, balance = excluded.balance,
        refill_amount = excluded.refill_amount, refill_per = excluded.refill_per, since = excluded.since, updated_at = excluded.updated_at`)
        .run(subscriptionOf(planId, consumerId), planId, consumerId, next.grant, next.balance, next.refillAmount, next.refillPer, next.since, t);
      // The old grant's spend is never read again: counting restarts with the new one.
      if (old !== undefined) this.db.prepare('DELETE FROM credit_spend WHERE grant_id = ?').run(old.grant_id);
      recordCreditWrites(this.db, [{ op: 'set', credit: feedCredit(next), was: old === undefined ? null : feedCreditOfRow(old) }], t);
      return next;
    }).immediate();
    this.changed();
    await this.durable();
    return balance;
  }

  async get(consumerId: string, planId: string): Promise<CreditBalance> {
    const r = this.row(consumerId, planId);
    if (r === undefined) throw new NotFoundError('credit balance', subscriptionOf(planId, consumerId));
    return creditFromRow(r);
  }

  async listForConsumer(consumerId: string): Promise<CreditBalance[]> {
    if (this.db.prepare('SELECT 1 FROM consumers WHERE id = ?').get(consumerId) === undefined) throw new NotFoundError('consumer', consumerId);
    return (this.db.prepare('SELECT * FROM credit_balances WHERE consumer_id = ? ORDER BY plan_id').all(consumerId) as CreditRow[]).map(creditFromRow);
  }

  async remove(consumerId: string, planId: string): Promise<void> {
    const t = this.now();
    this.db.transaction(() => {
      const r = this.row(consumerId, planId);
      if (r === undefined) throw new NotFoundError('credit balance', subscriptionOf(planId, consumerId));
      this.db.prepare('DELETE FROM credit_balances WHERE subscription = ?').run(r.subscription);
      this.db.prepare('DELETE FROM credit_spend WHERE grant_id = ?').run(r.grant_id);
      recordCreditWrites(this.db, [{ op: 'remove', credit: feedCreditOfRow(r), was: feedCreditOfRow(r) }], t);
    }).immediate();
    this.changed();
    await this.durable();
  }
}
