// The key feed in PostgreSQL: as store/sqlite/keyfeed.ts, for several replicas writing at once. Every transaction that
// writes keys first takes one advisory transaction lock, so revisions are handed out in commit order: a reader that
// has seen revision n has seen every revision below it, and a later commit can only add revisions above the head it
// read. Reads run in REPEATABLE READ, so the keys, the head and the digest are of one instant.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { EMPTY_SET_DIGEST, type FeedKey, type FeedOp } from '../../../contracts/key-feed.js';
import { newId } from '../../key-material.js';
import {
  applyCreditWrites, applyWrites, collapse, collapseCredits, feedKey, HISTORY_REVISIONS, HISTORY_SECONDS, mergeLogs, planOfCredit, scopeDigest, scopePlans,
  type CreditWrite, type FeedState, type KeyWrite, type LoggedChange,
} from '../../keyfeed/rules.js';
import { feedCreditOfRow, loggedCredit, type CreditLogRow, type CreditRow } from '../credit-row.js';
import type { FeedCreditsRead, FeedDeltaRead, FeedSnapshotRead, ImportKey, ImportOutcome, KeyFeedRepository } from '../repository.js';
import type { ReporterScope } from '../types.js';
import { transaction, type Queryable } from './connection.js';
import type { OnChange } from './shared.js';

/** The key writers' lock ("tollgate-keyfeed" folded into 63 bits), distinct from the migration and leader locks. */
export const KEY_FEED_LOCK_KEY = 0x746f6b6579666564n;

export const IN_SET = 'revoked_at IS NULL AND expired_at IS NULL';

interface StateRow { epoch: string; head: number; scope_revision: number; horizon: number; digests_ready: number }
interface FeedRow { digest: string; id: string; consumer_id: string; plan_id: string; expires_at: number | null }
interface LogRow { revision: number; key_id: string; op: FeedOp; digest: string; consumer_id: string; plan_id: string; expires_at: number }

/** Serializes key writers until the end of the caller's transaction. Take it before reading what the write depends on. */
export async function lockKeyFeed(c: Queryable): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1)', [KEY_FEED_LOCK_KEY.toString()]);
}

async function readState(q: Queryable, targetId?: string): Promise<FeedState & { ready: boolean }> {
  const r = (await q.query<StateRow & { target_revision: number | null }>(
    'SELECT *, (SELECT revision FROM feed_scope_changes WHERE target_id = $1) AS target_revision FROM feed_state WHERE id = 1', [targetId ?? null])).rows[0]!;
  return { epoch: r.epoch, head: r.head, scopeRevision: Math.max(r.scope_revision, r.target_revision ?? 0), horizon: r.horizon, ready: r.digests_ready === 1 };
}

/** Appends `writes` to the log and folds them into the plan digests. Call inside a transaction holding lockKeyFeed. */
export async function recordKeyWrites(c: Queryable, writes: readonly KeyWrite[], now: number): Promise<void> {
  if (writes.length === 0) return;
  const planIds = [...new Set(writes.flatMap((w) => (w.was === null ? [w.key[3]] : [w.key[3], w.was[3]])))];
  const cur = new Map((await c.query<{ plan_id: string; digest: string }>('SELECT plan_id, digest FROM feed_plan_digests WHERE plan_id = ANY($1)', [planIds]))
    .rows.map((r) => [r.plan_id, r.digest]));
  const digests = applyWrites(writes, (p) => cur.get(p) ?? EMPTY_SET_DIGEST);
  await c.query(`INSERT INTO feed_plan_digests (plan_id, digest) SELECT * FROM unnest($1::text[], $2::text[])
    ON CONFLICT (plan_id) DO UPDATE SET digest = excluded.digest`, [[...digests.keys()], [...digests.values()]]);
  let head = (await readState(c)).head;
  const cols: [number[], string[], string[], string[], string[], string[], number[]] = [[], [], [], [], [], [], []];
  const push = (op: FeedOp, k: FeedKey): void => {
    cols[0].push(++head); cols[1].push(k[1]); cols[2].push(op); cols[3].push(k[0]); cols[4].push(k[2]); cols[5].push(k[3]); cols[6].push(k[4]);
  };
  for (const w of writes) {
    // A key moved to another plan leaves its old plan's scope: logged as a removal there, then as its new state.
    if (w.was !== null && w.was[3] !== w.key[3]) push('revoke', w.was);
    push(w.op, w.key);
  }
  await c.query(`INSERT INTO key_changes (revision, key_id, op, digest, consumer_id, plan_id, expires_at, at)
    SELECT r, k, o, d, cn, p, e, $8 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS t(r, k, o, d, cn, p, e)`,
  [...cols, now]);
  await c.query('UPDATE feed_state SET head = $1 WHERE id = 1', [head]);
}

/** Appends balance writes to the credit log (revisions shared with keys) and folds them into the plan digests. Call inside a transaction holding lockKeyFeed. */
export async function recordCreditWrites(c: Queryable, writes: readonly CreditWrite[], now: number): Promise<void> {
  if (writes.length === 0) return;
  const planIds = [...new Set(writes.flatMap((w) => (w.was === null ? [planOfCredit(w.credit)] : [planOfCredit(w.credit), planOfCredit(w.was)])))];
  const cur = new Map((await c.query<{ plan_id: string; digest: string }>('SELECT plan_id, digest FROM feed_plan_digests WHERE plan_id = ANY($1)', [planIds]))
    .rows.map((r) => [r.plan_id, r.digest]));
  const digests = applyCreditWrites(writes, (p) => cur.get(p) ?? EMPTY_SET_DIGEST);
  await c.query(`INSERT INTO feed_plan_digests (plan_id, digest) SELECT * FROM unnest($1::text[], $2::text[])
    ON CONFLICT (plan_id) DO UPDATE SET digest = excluded.digest`, [[...digests.keys()], [...digests.values()]]);
  let head = (await readState(c)).head;
  for (const w of writes) {
    const x = w.credit;
    await c.query(`INSERT INTO credit_changes (revision, subscription, plan_id, op, grant_id, balance, refill_amount, refill_per, since, at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [++head, x[0], planOfCredit(x), w.op, x[1], x[2], x[3], x[4], x[5], now]);
  }
  await c.query('UPDATE feed_state SET head = $1 WHERE id = 1', [head]);
}

/** Which plans these targets' scopes hold changed: their deltas from before now cannot be served (others' can). */
export async function recordScopeChange(c: Queryable, targetIds: readonly string[]): Promise<void> {
  if (targetIds.length === 0) return;
  await lockKeyFeed(c);
  const head = (await c.query<{ head: number }>('UPDATE feed_state SET head = head + 1 WHERE id = 1 RETURNING head')).rows[0]!.head;
  await c.query(`INSERT INTO feed_scope_changes (target_id, revision) SELECT t, $2 FROM unnest($1::text[]) AS t
    ON CONFLICT (target_id) DO UPDATE SET revision = excluded.revision`, [targetIds, head]);
}

/** The targets as the scope rules need them. */
export async function scopeTargets(c: Queryable): Promise<{ id: string; apiIds: string[] }[]> {
  return (await c.query<{ id: string; api_ids: string }>('SELECT id, api_ids FROM targets')).rows.map((r) => ({ id: r.id, apiIds: JSON.parse(r.api_ids) as string[] }));
}

/** The key's entry while it is in the set, else null. */
export async function feedEntry(c: Queryable, id: string): Promise<FeedKey | null> {
  const r = await c.query<FeedRow>(`SELECT digest, id, consumer_id, plan_id, expires_at FROM api_keys WHERE id = $1 AND ${IN_SET}`, [id]);
  return r.rows.length === 0 ? null : feedKey(r.rows[0]!);
}

export class PostgresKeyFeed implements KeyFeedRepository {
  constructor(private readonly pool: pg.Pool, private readonly changed: OnChange) {}

  /** Keys present before the feed existed (an upgrade): their digests are computed once, by the first replica. */
  async prepare(): Promise<void> {
    if (!(await readState(this.pool)).ready) await this.rebuildIn(false);
  }

  private async plansOf(q: Queryable, scope: ReporterScope): Promise<string[] | null> {
    if (scope.apiIds === null) return null;
    const plans = new Map<string, string[]>();
    for (const r of (await q.query<{ id: string }>('SELECT id FROM plans')).rows) plans.set(r.id, []);
    for (const r of (await q.query<{ plan_id: string; api_id: string }>('SELECT plan_id, api_id FROM plan_apis')).rows) plans.get(r.plan_id)?.push(r.api_id);
    return scopePlans(plans, scope);
  }

  private async planDigests(q: Queryable): Promise<Map<string, string>> {
    return new Map((await q.query<{ plan_id: string; digest: string }>('SELECT plan_id, digest FROM feed_plan_digests')).rows.map((r) => [r.plan_id, r.digest]));
  }

  async state(targetId?: string): Promise<FeedState> {
    const { ready: _r, ...s } = await readState(this.pool, targetId);
    return s;
  }

  async snapshotPage(scope: ReporterScope, after: string | undefined, limit: number): Promise<FeedSnapshotRead> {
    return transaction(this.pool, async (c) => {
      const plans = await this.plansOf(c, scope);
      const { ready: _r, ...state } = await readState(c, scope.targetId);
      // Rows as arrays, already in the wire's order: a page of 10,000 keys allocates no row objects.
      const rows = await c.query<FeedKey>({
        text: `SELECT digest, id, consumer_id, plan_id, COALESCE(expires_at, 0) FROM api_keys
          WHERE digest COLLATE "C" > $1 AND ${IN_SET} ${plans === null ? '' : 'AND plan_id = ANY($3)'} ORDER BY digest COLLATE "C" LIMIT $2`,
        values: plans === null ? [after ?? '', limit] : [after ?? '', limit, plans],
        rowMode: 'array',
      });
      // Only asked on the last page of keys (fewer than `limit`): whether credit pages follow.
      const hasCredits = rows.rows.length < limit &&
        (await c.query(`SELECT 1 FROM credit_balances ${plans === null ? '' : 'WHERE plan_id = ANY($1)'} LIMIT 1`, plans === null ? [] : [plans])).rows.length > 0;
      return { state, keys: rows.rows, digest: scopeDigest(await this.planDigests(c), plans), hasCredits };
    }, { isolation: 'REPEATABLE READ', readOnly: true });
  }

  async creditPage(scope: ReporterScope, after: string, limit: number): Promise<FeedCreditsRead> {
    return transaction(this.pool, async (c) => {
      const plans = await this.plansOf(c, scope);
      const { ready: _r, ...state } = await readState(c, scope.targetId);
      const rows = await c.query<CreditRow>(`SELECT * FROM credit_balances WHERE subscription > $1 ${plans === null ? '' : 'AND plan_id = ANY($3)'}
        ORDER BY subscription LIMIT $2`, plans === null ? [after, limit] : [after, limit, plans]);
      return { state, credits: rows.rows.map(feedCreditOfRow), digest: scopeDigest(await this.planDigests(c), plans) };
    }, { isolation: 'REPEATABLE READ', readOnly: true });
  }

  async deltas(scope: ReporterScope, since: number, limit: number): Promise<FeedDeltaRead> {
    return transaction(this.pool, async (c) => {
      const plans = await this.plansOf(c, scope);
      const { ready: _r, ...state } = await readState(c, scope.targetId);
      const keyRows = (await c.query<LogRow>('SELECT * FROM key_changes WHERE revision > $1 ORDER BY revision LIMIT $2', [since, limit])).rows
        .map((r): LoggedChange => ({ revision: r.revision, op: r.op, key: [r.digest, r.key_id, r.consumer_id, r.plan_id, r.expires_at] }));
      const creditRows = (await c.query<CreditLogRow>('SELECT * FROM credit_changes WHERE revision > $1 ORDER BY revision LIMIT $2', [since, limit])).rows.map(loggedCredit);
      const merged = mergeLogs(keyRows, creditRows, limit);
      const last = merged.last ?? state.head;
      const more = merged.keys.length + merged.credits.length === limit && last < state.head;
      return {
        state, revision: more ? last : state.head, more, rows: merged.keys, changes: collapse(merged.keys, plans),
        digest: scopeDigest(await this.planDigests(c), plans), credits: collapseCredits(merged.credits, plans),
      };
    }, { isolation: 'REPEATABLE READ', readOnly: true });
  }

  async sweepExpired(now: number, limit: number): Promise<number> {
    const n = await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      const rows = (await c.query<FeedRow>(`UPDATE api_keys SET expired_at = $1 WHERE id IN (SELECT id FROM api_keys
        WHERE ${IN_SET} AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2)
        RETURNING digest, id, consumer_id, plan_id, expires_at`, [now, limit])).rows;
      await recordKeyWrites(c, rows.map((r) => ({ op: 'expire', key: feedKey(r), was: feedKey(r) })), now);
      return rows.length;
    });
    if (n > 0) this.changed();
    return n;
  }

  async prune(now: number): Promise<number> {
    return transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      const { head } = await readState(c);
      const old = (await c.query<{ r: number | null }>(`SELECT GREATEST((SELECT MAX(revision) FROM key_changes WHERE at < $1 OR revision <= $2),
        (SELECT MAX(revision) FROM credit_changes WHERE at < $1 OR revision <= $2)) AS r`,
      [now - HISTORY_SECONDS, head - HISTORY_REVISIONS])).rows[0]!.r;
      if (old === null) return 0;
      const deleted = ((await c.query('DELETE FROM key_changes WHERE revision <= $1', [old])).rowCount ?? 0)
        + ((await c.query('DELETE FROM credit_changes WHERE revision <= $1', [old])).rowCount ?? 0);
      await c.query('UPDATE feed_state SET horizon = GREATEST(horizon, $1) WHERE id = 1', [old]);
      return deleted;
    });
  }

  async importKeys(keys: readonly ImportKey[], now: number): Promise<ImportOutcome[]> {
    const out = await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      const consumers = new Set((await c.query<{ id: string }>('SELECT id FROM consumers WHERE id = ANY($1) FOR SHARE', [[...new Set(keys.map((k) => k.consumerId))]])).rows.map((r) => r.id));
      const plans = new Set((await c.query<{ id: string }>('SELECT id FROM plans WHERE id = ANY($1) FOR SHARE', [[...new Set(keys.map((k) => k.planId))]])).rows.map((r) => r.id));
      const ids = keys.flatMap((k) => (k.id === undefined ? [] : [k.id]));
      const found = (await c.query<FeedRow>('SELECT id, digest, consumer_id, plan_id, expires_at FROM api_keys WHERE id = ANY($1) OR digest = ANY($2)',
        [ids, keys.map((k) => k.digest)])).rows;
      const byId = new Map(found.map((r) => [r.id, r]));
      const byDigest = new Map(found.map((r) => [r.digest, r]));
      const writes: KeyWrite[] = [];
      const rows: [string[], string[], string[], string[], string[], (number | null)[]] = [[], [], [], [], [], []];
      const outcomes = keys.map((k): ImportOutcome => {
        const e = (k.id !== undefined ? byId.get(k.id) : undefined) ?? byDigest.get(k.digest);
        if (e !== undefined) {
          const same = e.digest === k.digest && e.consumer_id === k.consumerId && e.plan_id === k.planId &&
            e.expires_at === k.expiresAt && (k.id === undefined || k.id === e.id);
          return same ? { unchanged: e.id } : { error: k.id !== undefined && e.id === k.id ? `key '${k.id}' exists with other content` : 'digest: another key has this digest' };
        }
        if (!consumers.has(k.consumerId)) return { error: `consumerId: consumer '${k.consumerId}' does not exist` };
        if (!plans.has(k.planId)) return { error: `planId: plan '${k.planId}' does not exist` };
        const id = k.id ?? newId('key');
        const row: FeedRow = { id, digest: k.digest, consumer_id: k.consumerId, plan_id: k.planId, expires_at: k.expiresAt };
        // Later lines of the same chunk see this one (a line given twice is one key).
        byId.set(id, row);
        byDigest.set(k.digest, row);
        rows[0].push(id); rows[1].push(k.consumerId); rows[2].push(k.planId); rows[3].push(k.digest); rows[4].push(k.prefix); rows[5].push(k.expiresAt);
        writes.push({ op: 'add', key: [k.digest, id, k.consumerId, k.planId, k.expiresAt ?? 0], was: null });
        return { created: id };
      });
      if (writes.length > 0) {
        await c.query(`INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at, expires_at)
          SELECT i, cn, p, d, px, $7, e FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS t(i, cn, p, d, px, e)`,
        [...rows, now]);
        await recordKeyWrites(c, writes, now);
      }
      return outcomes;
    });
    if (out.some((o) => 'created' in o)) this.changed();
    return out;
  }

  private async rebuildIn(newEpoch: boolean): Promise<void> {
    await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      if (!newEpoch && (await readState(c)).ready) return; // another replica did it meanwhile
      let digests = new Map<string, string>();
      const cursorRows = async (after: string): Promise<FeedRow[]> => (await c.query<FeedRow>(`SELECT digest, id, consumer_id, plan_id, expires_at
        FROM api_keys WHERE ${IN_SET} AND digest COLLATE "C" > $1 ORDER BY digest COLLATE "C" LIMIT 10000`, [after])).rows;
      for (let after = '', rows = await cursorRows(after); rows.length > 0; after = rows.at(-1)!.digest, rows = await cursorRows(after)) {
        const prev = digests;
        digests = new Map([...prev, ...applyWrites(rows.map((r) => ({ op: 'add' as const, key: feedKey(r), was: null })), (p) => prev.get(p) ?? EMPTY_SET_DIGEST)]);
      }
      // Balances are in the digest too (contracts/key-feed.ts setDigest).
      const credits = (await c.query<CreditRow>('SELECT * FROM credit_balances')).rows.map((r) => ({ op: 'set' as const, credit: feedCreditOfRow(r), was: null }));
      const prev = digests;
      digests = new Map([...prev, ...applyCreditWrites(credits, (p) => prev.get(p) ?? EMPTY_SET_DIGEST)]);
      await c.query('DELETE FROM feed_plan_digests');
      await c.query('INSERT INTO feed_plan_digests (plan_id, digest) SELECT * FROM unnest($1::text[], $2::text[])', [[...digests.keys()], [...digests.values()]]);
      if (newEpoch) {
        await c.query('DELETE FROM key_changes');
        await c.query('DELETE FROM credit_changes');
        await c.query('DELETE FROM feed_scope_changes');
        await c.query('UPDATE feed_state SET epoch = $1, head = 0, scope_revision = 0, horizon = 0 WHERE id = 1', [randomBytes(16).toString('hex')]);
      }
      await c.query('UPDATE feed_state SET digests_ready = 1 WHERE id = 1');
    });
  }

  async rebuild(newEpoch: boolean): Promise<void> {
    await this.rebuildIn(newEpoch);
    this.changed();
  }
}
