// The key feed in SQLite: the change log every key write appends to (in the writer's transaction), the plan digests
// kept by XOR beside it, and the feed's reads. One process writes, so the transaction (BEGIN IMMEDIATE) is all the
// ordering revisions need.
import { randomBytes } from 'node:crypto';
import { EMPTY_SET_DIGEST, type FeedKey, type FeedOp } from '../../../contracts/key-feed.js';
import { newId } from '../../key-material.js';
import {
  applyCreditWrites, applyWrites, collapse, collapseCredits, feedKey, HISTORY_REVISIONS, HISTORY_SECONDS, mergeLogs, planOfCredit, scopeDigest, scopePlans,
  type CreditWrite, type FeedState, type KeyWrite, type LoggedChange,
} from '../../keyfeed/rules.js';
import { feedCreditOfRow, loggedCredit, type CreditLogRow, type CreditRow } from '../credit-row.js';
import type { FeedCredit } from '../../../contracts/key-feed.js';
import type { FeedCreditsRead, FeedDeltaRead, FeedSnapshotRead, ImportKey, ImportOutcome, KeyFeedRepository } from '../repository.js';
import type { ReporterScope } from '../types.js';
import type { Db } from './open.js';
import type { Durable, OnChange } from './shared.js';

interface StateRow { epoch: string; head: number; scope_revision: number; horizon: number; digests_ready: number }
interface FeedRow { digest: string; id: string; consumer_id: string; plan_id: string; expires_at: number | null }
interface LogRow { revision: number; key_id: string; op: FeedOp; digest: string; consumer_id: string; plan_id: string; expires_at: number }

/** A key is in the set until revoked, swept as expired, or deleted. */
export const IN_SET = 'revoked_at IS NULL AND expired_at IS NULL';

const readState = (db: Db, targetId?: string): FeedState => {
  const r = db.prepare('SELECT * FROM feed_state WHERE id = 1').get() as StateRow;
  const target = targetId === undefined ? undefined
    : (db.prepare('SELECT revision FROM feed_scope_changes WHERE target_id = ?').get(targetId) as { revision: number } | undefined)?.revision;
  return { epoch: r.epoch, head: r.head, scopeRevision: Math.max(r.scope_revision, target ?? 0), horizon: r.horizon };
};

/** Appends `writes` to the log and folds them into the plan digests. Call inside the writing transaction. */
export function recordKeyWrites(db: Db, writes: readonly KeyWrite[], now: number): void {
  if (writes.length === 0) return;
  const getDigest = db.prepare('SELECT digest FROM feed_plan_digests WHERE plan_id = ?');
  const digests = applyWrites(writes, (planId) => (getDigest.get(planId) as { digest: string } | undefined)?.digest ?? EMPTY_SET_DIGEST);
  const setDigest = db.prepare('INSERT INTO feed_plan_digests (plan_id, digest) VALUES (?, ?) ON CONFLICT (plan_id) DO UPDATE SET digest = excluded.digest');
  for (const [planId, d] of digests) setDigest.run(planId, d);
  let head = readState(db).head;
  const log = db.prepare('INSERT INTO key_changes (revision, key_id, op, digest, consumer_id, plan_id, expires_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  for (const w of writes) {
    // A key moved to another plan leaves its old plan's scope: logged as a removal there, then as its new state.
    if (w.was !== null && w.was[3] !== w.key[3]) log.run(++head, w.was[1], 'revoke', w.was[0], w.was[2], w.was[3], w.was[4], now);
    log.run(++head, w.key[1], w.op, w.key[0], w.key[2], w.key[3], w.key[4], now);
  }
  db.prepare('UPDATE feed_state SET head = ? WHERE id = 1').run(head);
}

/** Appends balance writes to the credit log (revisions shared with keys) and folds them into the plan digests. */
export function recordCreditWrites(db: Db, writes: readonly CreditWrite[], now: number): void {
  if (writes.length === 0) return;
  const getDigest = db.prepare('SELECT digest FROM feed_plan_digests WHERE plan_id = ?');
  const digests = applyCreditWrites(writes, (planId) => (getDigest.get(planId) as { digest: string } | undefined)?.digest ?? EMPTY_SET_DIGEST);
  const setDigest = db.prepare('INSERT INTO feed_plan_digests (plan_id, digest) VALUES (?, ?) ON CONFLICT (plan_id) DO UPDATE SET digest = excluded.digest');
  for (const [planId, d] of digests) setDigest.run(planId, d);
  let head = readState(db).head;
  const log = db.prepare(`INSERT INTO credit_changes (revision, subscription, plan_id, op, grant_id, balance, refill_amount, refill_per, since, at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  for (const w of writes) {
    const c: FeedCredit = w.credit;
    log.run(++head, c[0], planOfCredit(c), w.op, c[1], c[2], c[3], c[4], c[5], now);
  }
  db.prepare('UPDATE feed_state SET head = ? WHERE id = 1').run(head);
}

/**
 * Which plans these targets' scopes hold changed: their deltas from before now cannot be served (other targets' can).
 * Call inside the transaction.
 */
export function recordScopeChange(db: Db, targetIds: readonly string[]): void {
  if (targetIds.length === 0) return;
  db.prepare('UPDATE feed_state SET head = head + 1 WHERE id = 1').run();
  const { head } = readState(db);
  const put = db.prepare('INSERT INTO feed_scope_changes (target_id, revision) VALUES (?, ?) ON CONFLICT (target_id) DO UPDATE SET revision = excluded.revision');
  for (const id of targetIds) put.run(id, head);
}

/** The targets as the scope rules need them. */
export function scopeTargets(db: Db): { id: string; apiIds: string[] }[] {
  return (db.prepare('SELECT id, api_ids FROM targets').all() as { id: string; api_ids: string }[]).map((r) => ({ id: r.id, apiIds: JSON.parse(r.api_ids) as string[] }));
}

/** The key's entry while it is in the set, else null. */
export function feedEntry(db: Db, id: string): FeedKey | null {
  const r = db.prepare(`SELECT digest, id, consumer_id, plan_id, expires_at FROM api_keys WHERE id = ? AND ${IN_SET}`).get(id) as FeedRow | undefined;
  return r === undefined ? null : feedKey(r);
}

export class SqliteKeyFeed implements KeyFeedRepository {
  constructor(private readonly db: Db, private readonly changed: OnChange, private readonly durable: Durable) {
    // Keys present before the feed existed (an upgrade): their digests are computed once, here.
    const ready = (db.prepare('SELECT digests_ready FROM feed_state WHERE id = 1').get() as { digests_ready: number }).digests_ready;
    if (ready === 0) this.rebuildNow(false);
  }

  private planDigests(): Map<string, string> {
    return new Map((this.db.prepare('SELECT plan_id, digest FROM feed_plan_digests').all() as { plan_id: string; digest: string }[]).map((r) => [r.plan_id, r.digest]));
  }

  private plansOf(scope: ReporterScope): string[] | null {
    if (scope.apiIds === null) return null;
    const plans = new Map<string, string[]>();
    for (const r of this.db.prepare('SELECT id FROM plans').all() as { id: string }[]) plans.set(r.id, []);
    for (const r of this.db.prepare('SELECT plan_id, api_id FROM plan_apis').all() as { plan_id: string; api_id: string }[]) plans.get(r.plan_id)?.push(r.api_id);
    return scopePlans(plans, scope);
  }

  async state(targetId?: string): Promise<FeedState> {
    return readState(this.db, targetId);
  }

  async snapshotPage(scope: ReporterScope, after: string | undefined, limit: number): Promise<FeedSnapshotRead> {
    // One read transaction: the keys, the head and the digest are of the same instant.
    const read = this.db.transaction((): FeedSnapshotRead => {
      const plans = this.plansOf(scope);
      const state = readState(this.db, scope.targetId);
      const filter = plans === null ? '' : `AND plan_id IN (SELECT value FROM json_each(?))`;
      const args: unknown[] = [after ?? ''];
      if (plans !== null) args.push(JSON.stringify(plans));
      args.push(limit);
      // Rows as arrays, already in the wire's order: a page of 10,000 keys allocates no row objects.
      const keys = this.db.prepare(`SELECT digest, id, consumer_id, plan_id, IFNULL(expires_at, 0) FROM api_keys
        WHERE digest > ? AND ${IN_SET} ${filter} ORDER BY digest LIMIT ?`).raw(true).all(...args) as FeedKey[];
      // Only asked on the last page of keys (fewer than `limit`): whether credit pages follow.
      const hasCredits = keys.length < limit && this.db.prepare(`SELECT 1 FROM credit_balances ${plans === null ? '' : 'WHERE plan_id IN (SELECT value FROM json_each(?))'} LIMIT 1`)
        .get(...(plans === null ? [] : [JSON.stringify(plans)])) !== undefined;
      return { state, keys, digest: scopeDigest(this.planDigests(), plans), hasCredits };
    });
    const result = read.deferred();
    // Never hand out a revision that a crash could take back (and then reuse for another change).
    await this.durable();
    return result;
  }

  async creditPage(scope: ReporterScope, after: string, limit: number): Promise<FeedCreditsRead> {
    const read = this.db.transaction((): FeedCreditsRead => {
      const plans = this.plansOf(scope);
      const state = readState(this.db, scope.targetId);
      const args: unknown[] = [after];
      if (plans !== null) args.push(JSON.stringify(plans));
      args.push(limit);
      const rows = this.db.prepare(`SELECT * FROM credit_balances WHERE subscription > ?
        ${plans === null ? '' : 'AND plan_id IN (SELECT value FROM json_each(?))'} ORDER BY subscription LIMIT ?`).all(...args) as CreditRow[];
      return { state, credits: rows.map(feedCreditOfRow), digest: scopeDigest(this.planDigests(), plans) };
    });
    const result = read.deferred();
    await this.durable();
    return result;
  }

  async deltas(scope: ReporterScope, since: number, limit: number): Promise<FeedDeltaRead> {
    const read = this.db.transaction((): FeedDeltaRead => {
      const plans = this.plansOf(scope);
      const state = readState(this.db, scope.targetId);
      const keyRows = (this.db.prepare('SELECT * FROM key_changes WHERE revision > ? ORDER BY revision LIMIT ?').all(since, limit) as LogRow[])
        .map((r): LoggedChange => ({ revision: r.revision, op: r.op, key: [r.digest, r.key_id, r.consumer_id, r.plan_id, r.expires_at] }));
      const creditRows = (this.db.prepare('SELECT * FROM credit_changes WHERE revision > ? ORDER BY revision LIMIT ?').all(since, limit) as CreditLogRow[]).map(loggedCredit);
      const merged = mergeLogs(keyRows, creditRows, limit);
      const last = merged.last ?? state.head;
      const more = merged.keys.length + merged.credits.length === limit && last < state.head;
      return {
        state, revision: more ? last : state.head, more, rows: merged.keys, changes: collapse(merged.keys, plans), digest: scopeDigest(this.planDigests(), plans),
        credits: collapseCredits(merged.credits, plans),
      };
    });
    const result = read.deferred();
    await this.durable();
    return result;
  }

  async sweepExpired(now: number, limit: number): Promise<number> {
    const n = this.db.transaction((): number => {
      const rows = this.db.prepare(`SELECT digest, id, consumer_id, plan_id, expires_at FROM api_keys
        WHERE ${IN_SET} AND expires_at IS NOT NULL AND expires_at <= ? LIMIT ?`).all(now, limit) as FeedRow[];
      const mark = this.db.prepare('UPDATE api_keys SET expired_at = ? WHERE id = ?');
      for (const r of rows) mark.run(now, r.id);
      recordKeyWrites(this.db, rows.map((r) => ({ op: 'expire', key: feedKey(r), was: feedKey(r) })), now);
      return rows.length;
    }).immediate();
    if (n > 0) {
      await this.durable();
      this.changed();
    }
    return n;
  }

  async prune(now: number): Promise<number> {
    const n = this.db.transaction((): number => {
      const { head } = readState(this.db);
      const cut = [now - HISTORY_SECONDS, head - HISTORY_REVISIONS];
      const old = this.db.prepare(`SELECT MAX(r) AS r FROM (SELECT MAX(revision) AS r FROM key_changes WHERE at < ? OR revision <= ?
        UNION ALL SELECT MAX(revision) FROM credit_changes WHERE at < ? OR revision <= ?)`)
        .get(...cut, ...cut) as { r: number | null };
      if (old.r === null) return 0;
      const deleted = this.db.prepare('DELETE FROM key_changes WHERE revision <= ?').run(old.r).changes
        + this.db.prepare('DELETE FROM credit_changes WHERE revision <= ?').run(old.r).changes;
      this.db.prepare('UPDATE feed_state SET horizon = MAX(horizon, ?) WHERE id = 1').run(old.r);
      return deleted;
    }).immediate();
    if (n > 0) await this.durable();
    return n;
  }

  async importKeys(keys: readonly ImportKey[], now: number): Promise<ImportOutcome[]> {
    const out = this.db.transaction((): ImportOutcome[] => {
      const consumer = this.db.prepare('SELECT 1 FROM consumers WHERE id = ?');
      const plan = this.db.prepare('SELECT 1 FROM plans WHERE id = ?');
      const byId = this.db.prepare('SELECT * FROM api_keys WHERE id = ?');
      const byDigest = this.db.prepare('SELECT * FROM api_keys WHERE digest = ?');
      const insert = this.db.prepare('INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
      const known = new Map<string, boolean>();
      const exists = (kind: 'c' | 'p', id: string): boolean => {
        let v = known.get(kind + id);
        if (v === undefined) known.set(kind + id, v = (kind === 'c' ? consumer : plan).get(id) !== undefined);
        return v;
      };
      const writes: KeyWrite[] = [];
      const outcomes = keys.map((k): ImportOutcome => {
        const existing = (k.id !== undefined ? byId.get(k.id) : undefined) ?? byDigest.get(k.digest);
        if (existing !== undefined) {
          const e = existing as FeedRow;
          const same = e.digest === k.digest && e.consumer_id === k.consumerId && e.plan_id === k.planId &&
            e.expires_at === k.expiresAt && (k.id === undefined || k.id === e.id);
          return same ? { unchanged: e.id } : { error: k.id !== undefined && e.id === k.id ? `key '${k.id}' exists with other content` : 'digest: another key has this digest' };
        }
        if (!exists('c', k.consumerId)) return { error: `consumerId: consumer '${k.consumerId}' does not exist` };
        if (!exists('p', k.planId)) return { error: `planId: plan '${k.planId}' does not exist` };
        const id = k.id ?? newId('key');
        insert.run(id, k.consumerId, k.planId, k.digest, k.prefix, now, k.expiresAt);
        writes.push({ op: 'add', key: [k.digest, id, k.consumerId, k.planId, k.expiresAt ?? 0], was: null });
        return { created: id };
      });
      recordKeyWrites(this.db, writes, now);
      return outcomes;
    }).immediate();
    if (out.some((o) => 'created' in o)) {
      await this.durable();
      this.changed();
    }
    return out;
  }

  private rebuildNow(newEpoch: boolean): void {
    this.db.transaction(() => {
      let digests = new Map<string, string>();
      let writes: KeyWrite[] = [];
      const fold = (): void => {
        const prev = digests;
        digests = new Map([...prev, ...applyWrites(writes, (p) => prev.get(p) ?? EMPTY_SET_DIGEST)]);
        writes = [];
      };
      for (const r of this.db.prepare(`SELECT digest, id, consumer_id, plan_id, expires_at FROM api_keys WHERE ${IN_SET}`).iterate() as IterableIterator<FeedRow>) {
        writes.push({ op: 'add', key: feedKey(r), was: null });
        if (writes.length === 10_000) fold();
      }
      fold();
      // Balances are in the digest too (contracts/key-feed.ts setDigest).
      const credits = (this.db.prepare('SELECT * FROM credit_balances').all() as CreditRow[]).map((r) => ({ op: 'set' as const, credit: feedCreditOfRow(r), was: null }));
      const prev = digests;
      digests = new Map([...prev, ...applyCreditWrites(credits, (p) => prev.get(p) ?? EMPTY_SET_DIGEST)]);
      this.db.prepare('DELETE FROM feed_plan_digests').run();
      const put = this.db.prepare('INSERT INTO feed_plan_digests (plan_id, digest) VALUES (?, ?)');
      for (const [planId, d] of digests) put.run(planId, d);
      if (newEpoch) {
        this.db.prepare('DELETE FROM key_changes').run();
        this.db.prepare('DELETE FROM credit_changes').run();
        this.db.prepare('DELETE FROM feed_scope_changes').run();
        this.db.prepare('UPDATE feed_state SET epoch = ?, head = 0, scope_revision = 0, horizon = 0 WHERE id = 1').run(randomBytes(16).toString('hex'));
      }
      this.db.prepare('UPDATE feed_state SET digests_ready = 1 WHERE id = 1').run();
    }).immediate();
  }

  async rebuild(newEpoch: boolean): Promise<void> {
    this.rebuildNow(newEpoch);
    await this.durable();
    this.changed();
  }
}
