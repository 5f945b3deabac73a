// Usage storage in PostgreSQL (the rules are in control/usage/). storeBatch is one statement, so one implicit
// transaction and one round trip: the batch id row, inserted with ON CONFLICT (batch_id) DO NOTHING, decides whether
// the batch is new; only then are its minute rows appended (tagged with the batch's sequence number) and its fleet
// additions upserted. A concurrent copy of the batch waits on the batch id until the first commits, then inserts
// nothing: it is stored once, by any number of replicas. Minute rows are appended, not upserted, so concurrent batches
// never wait on one another's rows; rollup() (one replica at a time) folds whole batches into usage_hour/usage_day and
// marks the batch rows, never rewriting a minute row; hour/day queries add the minute rows of batches not rolled up
// yet, so answers never lag. Fleet rows are upserted in key order so concurrent batches lock shared rows in the same
// order. Commits are durable (synchronous_commit on), so a resolved storeBatch is on stable storage.
import type pg from 'pg';
import type { FleetCount, FleetWindowKey, KeyFacts, PlanFacts, StoredBatch, UsageQueryRow, UsageRepository } from '../repository.js';
import { STATUS_CLASSES, type FleetPer, type Granularity, type UsageQuery } from '../types.js';
import { fleetColumns, pgArray, usageColumns } from './batch-columns.js';
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

const FLEET_COLUMNS = 'plan_id, consumer_id, per, window_start, reporter';
const u = (i: number, type: string): string => `$${i}::${type}[]`;
// $1–$7 and $26 the batch row, $8–$18 the minute columns, $19–$25 the fleet columns. The data-modifying CTEs all run (each
// once) whether or not the final SELECT reads them; they read `b`, so they add nothing for a duplicate.
const STORE_BATCH_SQL = `
WITH b AS (
  INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped, target_id, refused, first_minute) VALUES ($1, $2, $3, $4, $5, $6, $7, $26)
  ON CONFLICT (batch_id) DO NOTHING RETURNING seq
), m AS (
  INSERT INTO usage_minute (start, key_id, api_id, outcome, consumer_id, count, ${STATUS_COLUMNS.join(', ')}, batch_seq)
  SELECT r.*, b.seq FROM b, unnest(${[u(8, 'bigint'), u(9, 'text'), u(10, 'text'), u(11, 'text'), u(12, 'text'), u(13, 'bigint'), ...STATUS_COLUMNS.map((_, i) => u(14 + i, 'bigint'))].join(', ')}) AS r
), f AS (
  -- The stored count never exceeds the cap: a new row starts at LEAST(count, cap), an existing one adds up to it.
  INSERT INTO fleet_windows AS f (${FLEET_COLUMNS}, count, cap)
  SELECT a.plan_id, a.consumer_id, a.per, a.window_start, a.reporter, LEAST(a.count, a.cap), a.cap
  FROM b, unnest(${u(19, 'text')}, ${u(20, 'text')}, ${u(21, 'text')}, ${u(22, 'bigint')}, ${u(23, 'text')}, ${u(24, 'bigint')}, ${u(25, 'bigint')})
    AS a(plan_id, consumer_id, per, window_start, reporter, count, cap)
  ORDER BY a.plan_id, a.consumer_id, a.per, a.window_start, a.reporter
  ON CONFLICT (${FLEET_COLUMNS}) DO UPDATE SET count = LEAST(f.count + EXCLUDED.count, EXCLUDED.cap), cap = EXCLUDED.cap
)
SELECT seq FROM b`;

const rollupInto = (table: string, size: number): string => `
INSERT INTO ${table} AS u (start, key_id, api_id, outcome, consumer_id, count, ${STATUS_COLUMNS.join(', ')})
SELECT start - start % ${size}, key_id, api_id, outcome, MIN(consumer_id), SUM(count), ${STATUS_COLUMNS.map((c) => `SUM(${c})`).join(', ')}
FROM moved GROUP BY 1, key_id, api_id, outcome ORDER BY 1, key_id, api_id, outcome
ON CONFLICT (start, key_id, api_id, outcome) DO UPDATE SET count = u.count + EXCLUDED.count,
  ${STATUS_COLUMNS.map((c) => `${c} = u.${c} + EXCLUDED.${c}`).join(', ')}`;

// Batches not rolled up yet, marked in the statement that takes them: a batch still committing is invisible to it and
// waits for the next run.
const TAKE_PENDING_SQL = 'UPDATE usage_batches SET rolled_up = true WHERE NOT rolled_up RETURNING seq, first_minute';
// The taken batches' minute rows (their batch_seq index, in the partitions from their first minute on) into hours and days.
const FOLD_SQL = `
WITH moved AS (
  SELECT start, key_id, api_id, outcome, consumer_id, count, ${STATUS_COLUMNS.join(', ')} FROM usage_minute
  WHERE batch_seq = ANY($1::bigint[]) AND start >= $2
), hours AS (${rollupInto('usage_hour', 3600)} RETURNING 1), days AS (${rollupInto('usage_day', 86_400)} RETURNING 1)
SELECT (SELECT COUNT(*) FROM moved) AS n, (SELECT COUNT(*) FROM hours) AS h, (SELECT COUNT(*) FROM days) AS d`;

export class PostgresUsage implements UsageRepository {
  /** Hours and days come from rollup(). */
  readonly batchSizes: readonly Granularity[] = ['minute'];

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

  private async write(b: StoredBatch): Promise<boolean> {
    const m = usageColumns(b.rows.minute);
    const f = fleetColumns(b.fleet);
    const r = await this.pool.query<{ seq: number }>({
      // Named: each pooled connection parses and plans it once.
      name: 'tollgate-store-batch',
      text: STORE_BATCH_SQL,
      values: [
        b.batchId, b.reporter, b.receivedAt, b.entries, b.dropped, b.targetId, b.refused,
        ...[m.start, m.keyId, m.apiId, m.outcome, m.consumerId, m.count, ...m.status].map(pgArray),
        ...[f.planId, f.consumerId, f.per, f.windowStart, f.reporter, f.count, f.cap].map(pgArray),
        m.start.reduce((min, t) => Math.min(min, t), b.receivedAt),
      ],
    });
    return r.rowCount === 1;
  }

  async fleetOthers(windows: readonly FleetWindowKey[], reporter: string): Promise<number[]> {
    if (windows.length === 0) return [];
    const r = await this.pool.query<{ i: number; n: number }>({
      name: 'tollgate-fleet-others',
      // One primary-key range lookup per window (the only index): a join would let the planner hash the whole table.
      text: `SELECT w.i, (SELECT COALESCE(SUM(f.count), 0) FROM fleet_windows f
         WHERE f.plan_id = w.plan_id AND f.consumer_id = w.consumer_id AND f.per = w.per AND f.window_start = w.window_start
           AND f.reporter <> $5) AS n
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS w(plan_id, consumer_id, per, window_start, i)
       ORDER BY w.i`,
      values: [windows.map((w) => w.planId), windows.map((w) => w.consumerId), windows.map((w) => w.per), windows.map((w) => w.windowStart), reporter],
    });
    return r.rows.map((row) => row.n);
  }

  async fleetCounts(windows: readonly { per: FleetPer; windowStart: number }[]): Promise<FleetCount[]> {
    if (windows.length === 0) return [];
    const r = await this.pool.query<FleetCount>({
      name: 'tollgate-fleet-counts',
      text: `SELECT f.plan_id AS "planId", f.consumer_id AS "consumerId", f.per, f.window_start AS "windowStart", f.reporter, f.count
       FROM fleet_windows f JOIN unnest($1::text[], $2::bigint[]) AS w(per, window_start) ON f.per = w.per AND f.window_start = w.window_start
       WHERE f.count > 0`,
      values: [windows.map((w) => w.per), windows.map((w) => w.windowStart)],
    });
    return r.rows;
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
    // Hours and days: the rollups, plus the minute rows of batches not rolled up yet (folded into the same buckets),
    // in one statement, so one snapshot: a batch is either in the rollups or pending, never both or neither. The
    // lateral join reads the few pending batches first and each one's rows through the batch_seq index, instead of
    // every minute row in the range.
    const source = q.granularity === 'minute' ? `SELECT start, ${columns} FROM usage_minute WHERE ${where.join(' AND ')}` : `
      SELECT start, ${columns} FROM ${TABLES[q.granularity]} WHERE ${where.join(' AND ')}
      UNION ALL
      SELECT m.start - m.start % ${BUCKET_S[q.granularity]} AS start, ${columns.split(', ').map((c) => `m.${c}`).join(', ')}
      FROM (SELECT seq FROM usage_batches WHERE NOT rolled_up OFFSET 0) AS p
      CROSS JOIN LATERAL (SELECT * FROM usage_minute WHERE batch_seq = p.seq AND ${where.join(' AND ')}) AS m`;
    const r = await this.pool.query<{ start: number; outcome: string; n: number } & Record<string, number>>(
      `SELECT start, outcome, SUM(count) AS n, ${STATUS_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')}
       FROM (${source}) AS rows GROUP BY start, outcome ORDER BY start`, args);
    return r.rows.map((row) => ({
      start: row.start, outcome: row.outcome, count: row.n,
      status: Object.fromEntries(STATUS_CLASSES.map((c) => [c, row[`status_${c}`] ?? 0])) as UsageQueryRow['status'],
    }));
  }

  /**
   * Folds the minute rows of batches not rolled up yet into usage_hour and usage_day and marks those batches, in one
   * transaction, by one replica at a time (a transaction advisory lock; the others skip). Batches still committing are
   * invisible and wait for the next run. Returns the number of minute rows rolled up.
   */
  async rollup(wait = false): Promise<number> {
    return transaction(this.pool, async (c) => {
      if (wait) await c.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK_KEY.toString()]);
      else {
        const lock = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [ROLLUP_LOCK_KEY.toString()]);
        if (lock.rows[0]?.ok !== true) return 0;
      }
      const taken = await c.query<{ seq: number; first_minute: number }>(TAKE_PENDING_SQL);
      if (taken.rows.length === 0) return 0;
      const from = taken.rows.reduce((min, r) => Math.min(min, r.first_minute), Infinity);
      const r = await c.query<{ n: string }>(FOLD_SQL, [taken.rows.map((row) => row.seq), from]);
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
