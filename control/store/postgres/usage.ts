// Usage storage in PostgreSQL (the rules are in control/usage/). storeBatch is one transaction: the batch id row,
// inserted with ON CONFLICT (batch_id) DO NOTHING, decides whether the batch is new; only then are the minute rows
// appended and the fleet additions written, in the same transaction. Minute rows are appended, not upserted, so
// concurrent batches from many proxies never wait on one another's rows; rollup() (one replica at a time) folds them
// into usage_hour/usage_day, and hour/day queries add the rows not rolled up yet, so answers never lag. A concurrent copy of the batch waits on the batch
// id until the first commits, then inserts nothing: it is stored once, by any number of replicas. Rows are written in
// key order so concurrent batches lock shared rows in the same order (no deadlocks). Commits are durable
// (synchronous_commit on), so a resolved storeBatch is on stable storage.
import type pg from 'pg';
import type { FleetWindowKey, KeyFacts, PlanFacts, StoredBatch, UsageQueryRow, UsageRepository } from '../repository.js';
import { STATUS_CLASSES, type FleetPer, type Granularity, type UsageQuery } from '../types.js';
import { fleetColumns, fleetKey, usageColumns, withoutCreated } from './batch-columns.js';
import { pgCode, transaction } from './connection.js';
import type { MinutePartitions } from './partitions.js';
import { parseLimits } from './shared.js';

const TABLES: Record<Granularity, string> = { minute: 'usage_minute', hour: 'usage_hour', day: 'usage_day' };
const STATUS_COLUMNS = STATUS_CLASSES.map((c) => `status_${c}`);
/** "no partition of relation … found for row": a day whose partition another replica's retention dropped. */
const NO_PARTITION = '23514';

/** Only one replica rolls up at a time ("tollgate-rollups" folded into 63 bits). */
export const ROLLUP_LOCK_KEY = 0x746f6c6c726f6c6cn;
const BUCKET_S: Record<'hour' | 'day', number> = { hour: 3600, day: 86_400 };

const APPEND_MINUTES_SQL = `
INSERT INTO usage_minute (start, key_id, api_id, outcome, consumer_id, count, ${STATUS_COLUMNS.join(', ')}, rolled_up)
SELECT *, false FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], ${STATUS_COLUMNS.map((_, i) => `$${i + 7}::bigint[]`).join(', ')})`;

const rollupInto = (table: string, size: number): string => `
INSERT INTO ${table} AS u (start, key_id, api_id, outcome, consumer_id, count, ${STATUS_COLUMNS.join(', ')})
SELECT start - start % ${size}, key_id, api_id, outcome, MIN(consumer_id), SUM(count), ${STATUS_COLUMNS.map((c) => `SUM(${c})`).join(', ')}
FROM moved GROUP BY 1, key_id, api_id, outcome ORDER BY 1, key_id, api_id, outcome
ON CONFLICT (start, key_id, api_id, outcome) DO UPDATE SET count = u.count + EXCLUDED.count,
  ${STATUS_COLUMNS.map((c) => `${c} = u.${c} + EXCLUDED.${c}`).join(', ')}`;

const ROLLUP_SQL = `
WITH moved AS (
  UPDATE usage_minute SET rolled_up = true WHERE NOT rolled_up
  RETURNING start, key_id, api_id, outcome, consumer_id, count, ${STATUS_COLUMNS.join(', ')}
), hours AS (${rollupInto('usage_hour', 3600)} RETURNING 1), days AS (${rollupInto('usage_day', 86_400)} RETURNING 1)
SELECT (SELECT COUNT(*) FROM moved) AS n, (SELECT COUNT(*) FROM hours) AS h, (SELECT COUNT(*) FROM days) AS d`;


// The stored count never exceeds the cap: a new row starts at LEAST(count, cap), an existing one adds up to it. Two
// statements, because ON CONFLICT DO UPDATE cannot see the cap (EXCLUDED holds table columns only): the insert
// creates the rows that did not exist (waiting for a concurrent creator, then leaving its row alone), and the update,
// with a snapshot of its own that sees such rows, adds to every row the insert did not create.
const FLEET_ARRAYS = 'unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[]) AS a(plan_id, consumer_id, per, window_start, reporter, count, cap)';
const FLEET_INSERT = `
INSERT INTO fleet_windows (plan_id, consumer_id, per, window_start, reporter, count)
SELECT plan_id, consumer_id, per, window_start, reporter, LEAST(count, cap) FROM ${FLEET_ARRAYS}
ORDER BY plan_id, consumer_id, per, window_start, reporter
ON CONFLICT (plan_id, consumer_id, per, window_start, reporter) DO NOTHING
RETURNING plan_id, consumer_id, per, window_start, reporter`;
const FLEET_ADD = `
UPDATE fleet_windows f SET count = LEAST(f.count + a.count, a.cap) FROM ${FLEET_ARRAYS}
WHERE f.plan_id = a.plan_id AND f.consumer_id = a.consumer_id AND f.per = a.per AND f.window_start = a.window_start AND f.reporter = a.reporter`;

export class PostgresUsage implements UsageRepository {
  constructor(private readonly pool: pg.Pool, private readonly partitions: MinutePartitions) {}

  private async apisOfPlans(planIds: readonly string[]): Promise<Map<string, string[]>> {
    const r = await this.pool.query<{ plan_id: string; api_id: string }>(
      'SELECT plan_id, api_id FROM plan_apis WHERE plan_id = ANY($1) ORDER BY plan_id, api_id', [[...new Set(planIds)]]);
    const byPlan = new Map<string, string[]>(planIds.map((p) => [p, []]));
    for (const row of r.rows) byPlan.get(row.plan_id)!.push(row.api_id);
    return byPlan;
  }

  async keyFacts(keyIds: readonly string[]): Promise<Map<string, KeyFacts>> {
    const facts = new Map<string, KeyFacts>();
    if (keyIds.length === 0) return facts;
    const r = await this.pool.query<{ id: string; consumer_id: string; plan_id: string; limits: string }>(
      'SELECT k.id, k.consumer_id, k.plan_id, p.limits FROM api_keys k JOIN plans p ON p.id = k.plan_id WHERE k.id = ANY($1)', [[...keyIds]]);
    const apis = await this.apisOfPlans(r.rows.map((row) => row.plan_id));
    for (const row of r.rows) {
      facts.set(row.id, { keyId: row.id, consumerId: row.consumer_id, planId: row.plan_id, limits: parseLimits(row.limits), planApiIds: apis.get(row.plan_id)! });
    }
    return facts;
  }

  async planFacts(planIds: readonly string[]): Promise<Map<string, PlanFacts>> {
    const facts = new Map<string, PlanFacts>();
    if (planIds.length === 0) return facts;
    const r = await this.pool.query<{ id: string; limits: string }>('SELECT id, limits FROM plans WHERE id = ANY($1)', [[...planIds]]);
    const apis = await this.apisOfPlans(r.rows.map((row) => row.id));
    for (const row of r.rows) facts.set(row.id, { limits: parseLimits(row.limits), apiIds: apis.get(row.id)! });
    return facts;
  }

  async existingApis(apiIds: readonly string[]): Promise<Set<string>> {
    if (apiIds.length === 0) return new Set();
    return new Set((await this.pool.query<{ id: string }>('SELECT id FROM apis WHERE id = ANY($1)', [[...apiIds]])).rows.map((r) => r.id));
  }

  async storeBatch(b: StoredBatch): Promise<boolean> {
    await this.partitions.ensure(b.rows.minute.map((r) => r.start));
    try {
      return await this.write(b);
    } catch (err) {
      if (pgCode(err) !== NO_PARTITION) throw err;
      // Nothing was written (the transaction rolled back): learn the partitions again and write once more.
      this.partitions.forget();
      await this.partitions.ensure(b.rows.minute.map((r) => r.start));
      return this.write(b);
    }
  }

  private write(b: StoredBatch): Promise<boolean> {
    return transaction(this.pool, async (c) => {
      const batch = await c.query(
        `INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped, target_id, refused) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (batch_id) DO NOTHING`, [b.batchId, b.reporter, b.receivedAt, b.entries, b.dropped, b.targetId, b.refused]);
      if (batch.rowCount !== 1) return false;
      if (b.rows.minute.length > 0) {
        const u = usageColumns(b.rows.minute);
        await c.query(APPEND_MINUTES_SQL, [u.start, u.keyId, u.apiId, u.outcome, u.consumerId, u.count, ...u.status]);
      }
      if (b.fleet.length > 0) {
        const f = fleetColumns(b.fleet);
        const created = await c.query<{ plan_id: string; consumer_id: string; per: string; window_start: number; reporter: string }>(
          FLEET_INSERT, [f.planId, f.consumerId, f.per, f.windowStart, f.reporter, f.count, f.cap]);
        const rest = withoutCreated(f, new Set(created.rows.map((r) => fleetKey(r.plan_id, r.consumer_id, r.per, r.window_start, r.reporter))));
        if (rest.planId.length > 0) await c.query(FLEET_ADD, [rest.planId, rest.consumerId, rest.per, rest.windowStart, rest.reporter, rest.count, rest.cap]);
      }
      return true;
    });
  }

  async fleetOthers(windows: readonly FleetWindowKey[], reporter: string): Promise<number[]> {
    if (windows.length === 0) return [];
    const r = await this.pool.query<{ i: number; n: number }>(
      // One primary-key range lookup per window: a join would let the planner hash the whole table on every report.
      `SELECT w.i, (SELECT COALESCE(SUM(f.count), 0) FROM fleet_windows f
         WHERE f.plan_id = w.plan_id AND f.consumer_id = w.consumer_id AND f.per = w.per AND f.window_start = w.window_start
           AND f.reporter <> $5) AS n
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS w(plan_id, consumer_id, per, window_start, i)
       ORDER BY w.i`,
      [windows.map((w) => w.planId), windows.map((w) => w.consumerId), windows.map((w) => w.per), windows.map((w) => w.windowStart), reporter]);
    return r.rows.map((row) => row.n);
  }

  async fleetCurrent(per: FleetPer, windowStart: number, reporter: string, limit: number): Promise<{ planId: string; consumerId: string; others: number }[]> {
    const r = await this.pool.query<{ planId: string; consumerId: string; others: number }>(
      `SELECT plan_id AS "planId", consumer_id AS "consumerId", SUM(count) AS others FROM fleet_windows
       WHERE per = $1 AND window_start = $2 AND reporter <> $3 GROUP BY plan_id, consumer_id HAVING SUM(count) > 0
       ORDER BY others DESC, plan_id, consumer_id LIMIT $4`, [per, windowStart, reporter, limit]);
    return r.rows;
  }

  async pruneFleet(before: Record<FleetPer, number>): Promise<void> {
    const entries = Object.entries(before);
    await this.pool.query(
      'DELETE FROM fleet_windows f USING unnest($1::text[], $2::bigint[]) AS b(per, cutoff) WHERE f.per = b.per AND f.window_start < b.cutoff',
      [entries.map(([per]) => per), entries.map(([, cutoff]) => cutoff)]);
  }

  async query(q: UsageQuery): Promise<UsageQueryRow[]> {
    const where = ['start >= $1', 'start < $2'];
    const args: (string | number)[] = [q.from, q.to];
    const filter = (column: string, value: string | undefined): void => {
      if (value === undefined) return;
      args.push(value);
      where.push(`${column} = $${args.length}`);
    };
    filter('key_id', q.keyId);
    filter('consumer_id', q.consumerId);
    filter('api_id', q.apiId);
    const columns = `outcome, count, ${STATUS_COLUMNS.join(', ')}`;
    // Hours and days: the rollups, plus the minute rows not rolled up yet (folded into the same buckets).
    const source = q.granularity === 'minute' ? `SELECT start, ${columns} FROM usage_minute WHERE ${where.join(' AND ')}` : `
      SELECT start, ${columns} FROM ${TABLES[q.granularity]} WHERE ${where.join(' AND ')}
      UNION ALL
      SELECT start - start % ${BUCKET_S[q.granularity]} AS start, ${columns} FROM usage_minute WHERE NOT rolled_up AND ${where.join(' AND ')}`;
    const r = await this.pool.query<{ start: number; outcome: string; n: number } & Record<string, number>>(
      `SELECT start, outcome, SUM(count) AS n, ${STATUS_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')}
       FROM (${source}) AS rows GROUP BY start, outcome ORDER BY start`, args);
    return r.rows.map((row) => ({
      start: row.start, outcome: row.outcome, count: row.n,
      status: Object.fromEntries(STATUS_CLASSES.map((c) => [c, row[`status_${c}`] ?? 0])) as UsageQueryRow['status'],
    }));
  }

  /**
   * Folds minute rows not rolled up yet into usage_hour and usage_day, in one transaction, by one replica at a time
   * (a transaction advisory lock; the others skip). Rows of batches still committing are invisible and wait for the
   * next run. Returns the number of minute rows rolled up.
   */
  async rollup(wait = false): Promise<number> {
    return transaction(this.pool, async (c) => {
      if (wait) await c.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK_KEY.toString()]);
      else {
        const lock = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [ROLLUP_LOCK_KEY.toString()]);
        if (lock.rows[0]?.ok !== true) return 0;
      }
      const r = await c.query<{ n: string }>(ROLLUP_SQL);
      return Number(r.rows[0]?.n ?? 0);
    });
  }

  async droppedTotal(): Promise<number> {
    return (await this.pool.query<{ n: number }>('SELECT COALESCE(SUM(dropped), 0) AS n FROM usage_batches')).rows[0]!.n;
  }

  /**
   * Minute usage before `before`: whole daily partitions are dropped (no row-by-row delete, no table bloat); rows of a
   * partition that straddles `before` (a cut-off that is not a day boundary) are deleted.
   */
  async dropUsageBefore(before: number): Promise<void> {
    // Minutes not rolled up yet would take their hours and days with them: fold everything first (waiting for a
    // rollup in progress elsewhere). Nothing new arrives for days that old: reports older than a week are refused.
    await this.rollup(true);
    // Left for the next run when a drop could not get its lock: deleting those partitions' rows one by one instead
    // is exactly what partitioning is here to avoid.
    if (!(await this.partitions.dropBefore(before)).complete) return;
    await this.pool.query('DELETE FROM usage_minute WHERE start < $1', [before]);
  }
}
