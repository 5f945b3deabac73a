// Usage storage in PostgreSQL (the rules are in control/usage/). storeBatch is one INSERT of one row: the batch's
// usage_batches row, which carries the batch's minute rows and fleet additions as arrays (the log: one row and one
// index entry per batch, however many rows it holds). ON CONFLICT (batch_id) DO NOTHING decides whether the batch is
// new; a concurrent copy waits on the batch id until the first commits, then inserts nothing: it is stored once, by
// any number of replicas. rollup() (one replica at a time) takes the batches not rolled up yet and, in the same
// statement, folds their logs into usage_minute (appended, aggregated across the batches), usage_hour, usage_day and
// fleet_windows (capped), and clears them: the indexed tables are written off the request path, in bulk. Every read
// adds the logs of batches not rolled up yet in the same statement (one snapshot: a batch is folded or pending, never
// both or neither), so no answer lags the fold. Commits are durable (synchronous_commit on), so a resolved storeBatch is
// on stable storage.
import type pg from 'pg';
import type {
  ExportGroupQuery, ExportGroupRow, FleetCount, FleetWindowKey, KeyFacts, OperationLimitFacts, PlanFacts, StoredBatch, TopQuery, TopRow, UsageQueryRow, UsageRepository,
} from '../repository.js';
import { TOP_SOURCE, topRows, topSql } from '../usage-top-sql.js';
import { billingGroupRows, billingGroupsSql } from '../billing-sql.js';
import { STATUS_CLASSES, type FleetPer, type Granularity, type OperationLimit, type UsageQuery } from '../types.js';
import { fleetLog, minuteLog } from './batch-columns.js';
import { pgCode, transaction } from './connection.js';
import { DAY_S, dayOf, type MinutePartitions } from './partitions.js';
import { parseLimits } from './shared.js';
import type { CreditRefillPer } from '../../../contracts/key-feed.js';
import type { CreditBalance } from '../../credits/balance.js';
import { creditFromRow, type CreditRow } from '../credit-row.js';

const TABLES: Record<Granularity, string> = { minute: 'usage_minute', hour: 'usage_hour', day: 'usage_day' };
const STATUS_COLUMNS = STATUS_CLASSES.map((c) => `status_${c}`);
/**
 * `units`, then `would_reject` last: log_numbers gained their rows last (migrations 009, 010), so a log written before
 * has none (read as NULL: one unit per allowed request, no would-be rejections).
 */
const MINUTE_COLUMNS = `start, key_id, api_id, outcome, consumer_id, count, ${STATUS_COLUMNS.join(', ')}, units, would_reject`;
/**
 * A row's units: NULL in rows (and logs) stored before migration 009, when every allowed request was one unit and
 * rejected requests spent none. Read rather than backfilled, so the migration rewrites no row.
 */
const UNITS_OF = (row: string): string => `COALESCE(${row}units, CASE WHEN ${row}outcome = 'allowed' THEN ${row}count ELSE 0 END)`;
/** "no partition of relation … found for row": a day whose partition another replica's retention dropped. */
const NO_PARTITION = '23514';

/** Only one replica rolls up at a time ("tollgate-rollups" folded into 63 bits). */
export const ROLLUP_LOCK_KEY = 0x746f6c6c726f6c6cn;
const BUCKET_S: Record<'hour' | 'day', number> = { hour: 3600, day: 86_400 };

const FLEET_COLUMNS = 'plan_id, consumer_id, per, window_start, reporter, scope';
/** Batches per fold statement: ~2,000 rows each in the bench, so a step holds a few million rows at most. */
const FOLD_BATCHES = 1000;

// A batch row's log as rows (batch-columns.ts builds the arrays: minuteLog, fleetLog). Slicing a row of a
// two-dimensional array and unnesting it gives that column's elements in order.
const minuteLogOf = (b: string): string => `unnest(${b}.log_numbers[1:1], ${b}.log_texts[1:1], ${b}.log_texts[2:2], ${b}.log_texts[3:3],
  ${b}.log_texts[4:4], ${b}.log_numbers[2:2], ${STATUS_COLUMNS.map((_, i) => `${b}.log_numbers[${i + 3}:${i + 3}]`).join(', ')},
  ${b}.log_numbers[${STATUS_COLUMNS.length + 3}:${STATUS_COLUMNS.length + 3}], ${b}.log_numbers[${STATUS_COLUMNS.length + 4}:${STATUS_COLUMNS.length + 4}])
  AS m(${MINUTE_COLUMNS})`;
// The scope row is the texts' fifth, absent from logs written before migration 011: unnest pads it with NULL, an
// unscoped window.
const fleetLogOf = (b: string): string => `LATERAL (SELECT plan_id, consumer_id, per, window_start, reporter, COALESCE(scope, '') AS scope, count, cap
  FROM unnest(${b}.fleet_texts[1:1], ${b}.fleet_texts[2:2], ${b}.fleet_texts[3:3], ${b}.fleet_numbers[1:1], ${b}.fleet_texts[4:4],
  ${b}.fleet_texts[5:5], ${b}.fleet_numbers[2:2], ${b}.fleet_numbers[3:3]) AS l(plan_id, consumer_id, per, window_start, reporter, scope, count, cap)) AS a`;
/**
 * A batch's minute log as billing rows (migration 016): the hour, and the texts' operation and plan rows (absent from
 * logs written before: operation '', the key's plan at the time of the read).
 */
const BILLING_COLUMNS = `start, consumer_id, plan_id, api_id, operation_id, outcome, count, units, would_reject, ${STATUS_COLUMNS.join(', ')}`;
const billingLogOf = (b: string): string => `LATERAL (SELECT start - start % 3600 AS start, consumer_id,
  COALESCE(plan_id, (SELECT k.plan_id FROM api_keys k WHERE k.id = l.key_id), '') AS plan_id, api_id, COALESCE(operation_id, '') AS operation_id, outcome,
  count, ${UNITS_OF('')} AS units, COALESCE(would_reject, 0) AS would_reject, ${STATUS_COLUMNS.join(', ')}
  FROM unnest(${b}.log_numbers[1:1], ${b}.log_texts[1:1], ${b}.log_texts[2:2], ${b}.log_texts[3:3], ${b}.log_texts[4:4], ${b}.log_texts[5:5],
  ${b}.log_texts[6:6], ${b}.log_numbers[2:2], ${STATUS_COLUMNS.map((_, i) => `${b}.log_numbers[${i + 3}:${i + 3}]`).join(', ')},
  ${b}.log_numbers[${STATUS_COLUMNS.length + 3}:${STATUS_COLUMNS.length + 3}], ${b}.log_numbers[${STATUS_COLUMNS.length + 4}:${STATUS_COLUMNS.length + 4}])
  AS l(start, key_id, api_id, outcome, consumer_id, operation_id, plan_id, count, ${STATUS_COLUMNS.join(', ')}, units, would_reject)) AS g`;
/** The billing rows folded and those of batches not rolled up yet, in one statement (one snapshot). */
const BILLING_SOURCE = `(SELECT ${BILLING_COLUMNS} FROM usage_billing_hour UNION ALL
  SELECT g.* FROM usage_batches b, ${billingLogOf('b')} WHERE NOT b.rolled_up) AS billing`;

/** Minute rows of the batches not rolled up yet (their partial index finds them). */
const PENDING_MINUTES = `SELECT m.* FROM usage_batches b, ${minuteLogOf('b')} WHERE NOT b.rolled_up`;

/**
 * usage_hour's rows and the pending batches' minutes in their hours, in one statement (one snapshot), for the top-keys
 * ranking; units and would_reject NULL in rows written before they existed read as UNITS_OF says.
 */
const HOUR_SOURCE = `(SELECT start, key_id, api_id, outcome, consumer_id, count, ${UNITS_OF('')} AS units, COALESCE(would_reject, 0) AS would_reject FROM usage_hour
  UNION ALL SELECT start - start % 3600, key_id, api_id, outcome, consumer_id, count, ${UNITS_OF('')}, COALESCE(would_reject, 0) FROM (${PENDING_MINUTES}) AS p) AS hours`;

/**
 * Each reporter's count per fleet window matching `filter` (over plan_id, consumer_id, per, window_start): the stored
 * count plus the pending additions, capped as the rollup will cap them. A stored count never exceeds its cap, so
 * LEAST(stored + pending, cap) is the sum capped at the pending additions' cap.
 */
const fleetMerged = (filter: string): string => `
SELECT ${FLEET_COLUMNS}, CASE WHEN bool_or(pending) THEN LEAST(SUM(count), MIN(cap) FILTER (WHERE pending)) ELSE SUM(count) END AS count
FROM (
  SELECT ${FLEET_COLUMNS}, count, cap, false AS pending FROM fleet_windows WHERE ${filter}
  UNION ALL
  SELECT *, true FROM (SELECT a.* FROM usage_batches b, ${fleetLogOf('b')} WHERE NOT b.rolled_up) AS p WHERE ${filter}
) AS x GROUP BY ${FLEET_COLUMNS}`;

const STORE_BATCH_SQL = `
INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped, target_id, refused, first_minute, log_numbers, log_texts, fleet_numbers, fleet_texts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (batch_id) DO NOTHING`;

/**
 * A batch with credit spend: the same insert, and in the same statement (so the same transaction) the spend added and
 * past periods of refilling grants cut, only when the batch row was inserted now (a duplicate adds nothing). The
 * spend is written straight to credit_spend rather than to the log: only subscriptions with a balance have any, and
 * a balance's remaining must be exact on every reply, not after the next fold.
 */
const STORE_BATCH_CREDITS_SQL = `
WITH b AS (${STORE_BATCH_SQL} RETURNING 1),
cut AS (
  DELETE FROM credit_spend s USING unnest($17::text[], $18::bigint[]) AS p(grant_id, before)
  WHERE EXISTS (SELECT 1 FROM b) AND s.grant_id = p.grant_id AND s.from_minute < p.before RETURNING 1
), spend AS (
  INSERT INTO credit_spend AS s (grant_id, from_minute, reporter, units)
  SELECT * FROM unnest($13::text[], $14::bigint[], $15::text[], $16::bigint[]) WHERE EXISTS (SELECT 1 FROM b)
  ORDER BY 1, 2, 3
  ON CONFLICT (grant_id, from_minute, reporter) DO UPDATE SET units = s.units + EXCLUDED.units RETURNING 1
)
SELECT (SELECT COUNT(*) FROM b)::int AS stored, (SELECT COUNT(*) FROM cut) AS cut, (SELECT COUNT(*) FROM spend) AS spent`;

const rollupInto = (table: string, size: number): string => `
INSERT INTO ${table} AS u (${MINUTE_COLUMNS})
SELECT start - start % ${size}, key_id, api_id, outcome, MIN(consumer_id), SUM(count), ${STATUS_COLUMNS.map((c) => `SUM(${c})`).join(', ')}, SUM(units), SUM(would_reject)
FROM moved GROUP BY 1, key_id, api_id, outcome ORDER BY 1, key_id, api_id, outcome
ON CONFLICT (start, key_id, api_id, outcome) DO UPDATE SET count = u.count + EXCLUDED.count,
  ${STATUS_COLUMNS.map((c) => `${c} = u.${c} + EXCLUDED.${c}`).join(', ')}, units = ${UNITS_OF('u.')} + EXCLUDED.units,
  would_reject = COALESCE(u.would_reject, 0) + EXCLUDED.would_reject`;

// The batches not rolled up yet (the oldest $1 of them: a backlog is folded in bounded steps, each its own transaction)
// are marked and their logs cleared by the statement that reads them (the subquery's
// snapshot is the statement's: a batch still committing is invisible to both and waits for the next run). Their minute
// rows, summed per bucket across batches, are appended to usage_minute and added to hours and days; their fleet
// additions, summed per window and reporter, added to fleet_windows capped (min(min(a + b, cap) + c, cap) =
// min(a + b + c, cap), so folding many batches at once caps as adding them one by one would), in key order.
const FOLD_SQL = `
WITH taken AS (
  UPDATE usage_batches b SET rolled_up = true, log_numbers = NULL, log_texts = NULL, fleet_numbers = NULL, fleet_texts = NULL
  FROM (SELECT seq, log_numbers, log_texts, fleet_numbers, fleet_texts FROM usage_batches WHERE NOT rolled_up ORDER BY seq LIMIT $1) AS t
  WHERE b.seq = t.seq AND NOT b.rolled_up
  RETURNING t.log_numbers, t.log_texts, t.fleet_numbers, t.fleet_texts
), logged AS (
  SELECT m.* FROM taken t, ${minuteLogOf('t')}
), moved AS (
  SELECT start, key_id, api_id, outcome, MIN(consumer_id) AS consumer_id, SUM(count) AS count, ${STATUS_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')},
    SUM(${UNITS_OF('')}) AS units, SUM(COALESCE(would_reject, 0)) AS would_reject
  FROM logged GROUP BY start, key_id, api_id, outcome
), minutes AS (
  INSERT INTO usage_minute (${MINUTE_COLUMNS}) SELECT ${MINUTE_COLUMNS} FROM moved ORDER BY start RETURNING 1
), hours AS (${rollupInto('usage_hour', 3600)} RETURNING 1), days AS (${rollupInto('usage_day', 86_400)} RETURNING 1),
fleet AS (
  INSERT INTO fleet_windows AS f (${FLEET_COLUMNS}, count, cap)
  SELECT ${FLEET_COLUMNS}, LEAST(SUM(count), MIN(cap)), MIN(cap) FROM taken t, ${fleetLogOf('t')}
  GROUP BY ${FLEET_COLUMNS} ORDER BY ${FLEET_COLUMNS}
  ON CONFLICT (${FLEET_COLUMNS}) DO UPDATE SET count = LEAST(f.count + EXCLUDED.count, EXCLUDED.cap), cap = EXCLUDED.cap
  RETURNING 1
), billing AS (
  INSERT INTO usage_billing_hour AS u (${BILLING_COLUMNS})
  SELECT start, consumer_id, plan_id, api_id, operation_id, outcome, SUM(count), SUM(units), SUM(would_reject), ${STATUS_COLUMNS.map((c) => `SUM(${c})`).join(', ')}
  FROM taken t, ${billingLogOf('t')} GROUP BY start, consumer_id, plan_id, api_id, operation_id, outcome
  ORDER BY start, consumer_id, plan_id, api_id, operation_id, outcome
  ON CONFLICT (start, consumer_id, plan_id, api_id, operation_id, outcome) DO UPDATE SET count = u.count + EXCLUDED.count, units = u.units + EXCLUDED.units,
    would_reject = u.would_reject + EXCLUDED.would_reject, ${STATUS_COLUMNS.map((c) => `${c} = u.${c} + EXCLUDED.${c}`).join(', ')}
  RETURNING 1
)
SELECT (SELECT COUNT(*) FROM taken) AS batches, (SELECT COUNT(*) FROM logged) AS n, (SELECT COUNT(*) FROM minutes) AS m, (SELECT COUNT(*) FROM hours) AS h,
  (SELECT COUNT(*) FROM days) AS d, (SELECT COUNT(*) FROM fleet) AS f, (SELECT COUNT(*) FROM billing) AS b`;

export class PostgresUsage implements UsageRepository {
  /** Hours and days come from rollup(). */
  readonly batchSizes: readonly Granularity[] = ['minute'];

  /** `foldBatches`: at most this many batches per fold statement (a backlog is folded in several transactions). */
  constructor(private readonly pool: pg.Pool, private readonly partitions: MinutePartitions, private readonly foldBatches = FOLD_BATCHES) {}

  private async apisOfPlans(planIds: readonly string[]): Promise<Map<string, string[]>> {
    const r = await this.pool.query<{ plan_id: string; api_id: string }>(
      'SELECT plan_id, api_id FROM plan_apis WHERE plan_id = ANY($1) ORDER BY plan_id, api_id', [[...new Set(planIds)]]);
    const byPlan = new Map<string, string[]>(planIds.map((p) => [p, []]));
    for (const row of r.rows) byPlan.get(row.plan_id)!.push(row.api_id);
    return byPlan;
  }

  /** The default limits of the operations of these plans' APIs, per plan (plans without any are absent). */
  private async operationLimitsOf(planIds: readonly string[]): Promise<Map<string, OperationLimitFacts[]>> {
    const byPlan = new Map<string, OperationLimitFacts[]>();
    if (planIds.length === 0) return byPlan;
    const r = await this.pool.query<{ plan_id: string; api_id: string; id: string; limits: string }>(
      `SELECT pa.plan_id, o.api_id, o.id, o.limits FROM plan_apis pa JOIN api_operations o ON o.api_id = pa.api_id
       WHERE pa.plan_id = ANY($1) AND o.limits IS NOT NULL ORDER BY pa.plan_id, o.api_id, o.id`, [[...new Set(planIds)]]);
    for (const row of r.rows) {
      const list = byPlan.get(row.plan_id) ?? [];
      list.push({ apiId: row.api_id, operationId: row.id, limits: JSON.parse(row.limits) as OperationLimit[] });
      byPlan.set(row.plan_id, list);
    }
    return byPlan;
  }

  async keyFacts(keyIds: readonly string[]): Promise<Map<string, KeyFacts>> {
    const facts = new Map<string, KeyFacts>();
    if (keyIds.length === 0) return facts;
    // The subscription's credit balance comes with the key (absent for most): ingest touches only those that have one.
    const r = await this.pool.query<{ id: string; consumer_id: string; plan_id: string; limits: string; grant_id: string | null; since: number; refill_per: CreditRefillPer | null }>(
      `SELECT k.id, k.consumer_id, k.plan_id, p.limits, c.grant_id, c.since, c.refill_per FROM api_keys k JOIN plans p ON p.id = k.plan_id
       LEFT JOIN credit_balances c ON c.subscription = k.plan_id || '/' || k.consumer_id WHERE k.id = ANY($1)`, [[...keyIds]]);
    const apis = await this.apisOfPlans(r.rows.map((row) => row.plan_id));
    const ops = await this.operationLimitsOf(r.rows.map((row) => row.plan_id));
    for (const row of r.rows) {
      const operationLimits = ops.get(row.plan_id);
      facts.set(row.id, {
        keyId: row.id, consumerId: row.consumer_id, planId: row.plan_id, limits: parseLimits(row.limits), planApiIds: apis.get(row.plan_id)!,
        ...(operationLimits !== undefined ? { operationLimits } : {}),
        ...(row.grant_id !== null ? { credit: { grant: row.grant_id, since: row.since, refillPer: row.refill_per } } : {}),
      });
    }
    return facts;
  }

  async planFacts(planIds: readonly string[]): Promise<Map<string, PlanFacts>> {
    const facts = new Map<string, PlanFacts>();
    if (planIds.length === 0) return facts;
    const r = await this.pool.query<{ id: string; limits: string }>('SELECT id, limits FROM plans WHERE id = ANY($1)', [[...planIds]]);
    const apis = await this.apisOfPlans(r.rows.map((row) => row.id));
    const ops = await this.operationLimitsOf(r.rows.map((row) => row.id));
    for (const row of r.rows) {
      const operationLimits = ops.get(row.id);
      facts.set(row.id, { limits: parseLimits(row.limits), apiIds: apis.get(row.id)!, ...(operationLimits !== undefined ? { operationLimits } : {}) });
    }
    return facts;
  }

  async existingApis(apiIds: readonly string[]): Promise<Set<string>> {
    if (apiIds.length === 0) return new Set();
    return new Set((await this.pool.query<{ id: string }>('SELECT id FROM apis WHERE id = ANY($1)', [[...apiIds]])).rows.map((r) => r.id));
  }

  async storeBatch(b: StoredBatch): Promise<boolean> {
    // The rollup appends these rows to usage_minute later: its partitions are made sure of now, off the fold's path.
    await this.partitions.ensure(b.rows.minute.map((r) => r.start));
    const m = minuteLog(b.rows.minute);
    const f = fleetLog(b.fleet);
    const values: unknown[] = [
      b.batchId, b.reporter, b.receivedAt, b.entries, b.dropped, b.targetId, b.refused,
      b.rows.minute.reduce((min, row) => Math.min(min, row.start), b.receivedAt),
      m.numbers, m.texts, f.numbers, f.texts,
    ];
    const credits = b.credits ?? [];
    if (credits.length > 0) {
      const prune = b.creditPrune ?? [];
      const r = await this.pool.query<{ stored: number }>({
        name: 'tollgate-store-batch-credits',
        text: STORE_BATCH_CREDITS_SQL,
        values: [...values, credits.map((c) => c.grant), credits.map((c) => c.from), credits.map((c) => c.reporter), credits.map((c) => c.units),
          prune.map((p) => p.grant), prune.map((p) => p.before)],
      });
      return r.rows[0]?.stored === 1;
    }
    const r = await this.pool.query({
      // Named: each pooled connection parses and plans it once.
      name: 'tollgate-store-batch',
      text: STORE_BATCH_SQL,
      values,
    });
    return r.rowCount === 1;
  }

  async fleetOthers(windows: readonly FleetWindowKey[], reporter: string): Promise<number[]> {
    if (windows.length === 0) return [];
    const r = await this.pool.query<{ i: number; n: number }>({
      name: 'tollgate-fleet-others',
      text: `WITH w AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $6::text[]) WITH ORDINALITY AS w(plan_id, consumer_id, per, window_start, scope, i)),
       x AS (${fleetMerged('(plan_id, consumer_id, per, window_start, scope) IN (SELECT plan_id, consumer_id, per, window_start, scope FROM w)')})
       SELECT w.i, COALESCE(SUM(x.count) FILTER (WHERE x.reporter <> $5), 0) AS n
       FROM w LEFT JOIN x ON x.plan_id = w.plan_id AND x.consumer_id = w.consumer_id AND x.per = w.per AND x.window_start = w.window_start AND x.scope = w.scope
       GROUP BY w.i ORDER BY w.i`,
      values: [windows.map((w) => w.planId), windows.map((w) => w.consumerId), windows.map((w) => w.per), windows.map((w) => w.windowStart), reporter,
        windows.map((w) => w.scope ?? '')],
    });
    return r.rows.map((row) => row.n);
  }

  async creditOthers(grants: readonly { grant: string; from: number }[], reporter: string): Promise<number[]> {
    if (grants.length === 0) return [];
    const r = await this.pool.query<{ n: number }>({
      name: 'tollgate-credit-others',
      text: `SELECT COALESCE((SELECT SUM(s.units) FROM credit_spend s WHERE s.grant_id = g.grant_id AND s.from_minute = g.from_minute AND s.reporter <> $3), 0) AS n
       FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS g(grant_id, from_minute, i) ORDER BY g.i`,
      values: [grants.map((g) => g.grant), grants.map((g) => g.from), reporter],
    });
    return r.rows.map((row) => row.n);
  }

  async creditBalances(): Promise<CreditBalance[]> {
    return (await this.pool.query<CreditRow>('SELECT * FROM credit_balances ORDER BY subscription')).rows.map(creditFromRow);
  }

  async fleetCounts(windows: readonly { per: FleetPer; windowStart: number }[]): Promise<FleetCount[]> {
    if (windows.length === 0) return [];
    const r = await this.pool.query<FleetCount>({
      name: 'tollgate-fleet-counts',
      text: `SELECT plan_id AS "planId", consumer_id AS "consumerId", per, window_start AS "windowStart", reporter, count, scope
       FROM (${fleetMerged('(per, window_start) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))')}) AS x WHERE count > 0`,
      values: [windows.map((w) => w.per), windows.map((w) => w.windowStart)],
    });
    return r.rows;
  }

  async fleetCurrent(per: FleetPer, windowStart: number, reporter: string, limit: number): Promise<{ planId: string; consumerId: string; scope: string; others: number }[]> {
    const r = await this.pool.query<{ planId: string; consumerId: string; scope: string; others: number }>(
      `SELECT plan_id AS "planId", consumer_id AS "consumerId", scope, SUM(count) AS others FROM (${fleetMerged('per = $1 AND window_start = $2')}) AS x
       WHERE reporter <> $3 GROUP BY plan_id, consumer_id, scope HAVING SUM(count) > 0
       ORDER BY others DESC, plan_id, consumer_id, scope LIMIT $4`, [per, windowStart, reporter, limit]);
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
    const columns = `outcome, count, units, would_reject, ${STATUS_COLUMNS.join(', ')}`;
    // The folded rows plus the logs of batches not rolled up yet (folded into the same buckets), in one statement, so
    // one snapshot: a batch is either folded or pending, never both or neither. Pending batches are few (the rollup runs
    // every second): their logs are unnested whole, then filtered.
    const pending = q.granularity === 'minute' ? `SELECT start, ${columns} FROM (${PENDING_MINUTES}) AS p WHERE ${where.join(' AND ')}`
      : `SELECT start - start % ${BUCKET_S[q.granularity]} AS start, ${columns} FROM (${PENDING_MINUTES}) AS p WHERE ${where.join(' AND ')}`;
    const source = `SELECT start, ${columns} FROM ${TABLES[q.granularity]} WHERE ${where.join(' AND ')} UNION ALL ${pending}`;
    const r = await this.pool.query<{ start: number; outcome: string; n: number; units: number; would_reject: number } & Record<string, number>>(
      `SELECT start, outcome, SUM(count) AS n, SUM(${UNITS_OF('')}) AS units, SUM(COALESCE(would_reject, 0)) AS would_reject, ${STATUS_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')}
       FROM (${source}) AS rows GROUP BY start, outcome ORDER BY start`, args);
    return r.rows.map((row) => ({
      start: row.start, outcome: row.outcome, count: row.n, units: row.units, wouldReject: Number(row.would_reject ?? 0),
      status: Object.fromEntries(STATUS_CLASSES.map((c) => [c, row[`status_${c}`] ?? 0])) as UsageQueryRow['status'],
    }));
  }

  /**
   * Folds the logs of batches not rolled up yet into usage_minute, usage_hour, usage_day and fleet_windows and clears
   * them, in one transaction, by one replica at a time (a transaction advisory lock; the others skip). Batches still
   * committing are invisible and wait for the next run. A backlog is folded oldest first, `foldBatches` batches per
   * transaction, until none is left. Returns the number of minute rows rolled up.
   */
  async rollup(wait = false): Promise<number> {
    let rows = 0;
    for (;;) {
      const step = await this.foldOnce(wait);
      rows += step.rows;
      if (step.batches < this.foldBatches) return rows;
    }
  }

  private async foldOnce(wait: boolean): Promise<{ batches: number; rows: number }> {
    try {
      return await this.fold(wait);
    } catch (err) {
      if (pgCode(err) !== NO_PARTITION) throw err;
      // A pending minute whose day another replica's retention dropped after the batch was stored (nothing was
      // folded: the transaction rolled back). Recreate the days from the oldest pending minute on and fold again.
      this.partitions.forget();
      const oldest = (await this.pool.query<{ f: number | null }>('SELECT MIN(first_minute) AS f FROM usage_batches WHERE NOT rolled_up')).rows[0]?.f;
      const days: number[] = [];
      for (let d = dayOf(oldest ?? Date.now() / 1000); d <= dayOf(Date.now() / 1000); d += DAY_S) days.push(d);
      await this.partitions.ensure(days);
      return this.fold(wait);
    }
  }

  private async fold(wait: boolean): Promise<{ batches: number; rows: number }> {
    return transaction(this.pool, async (c) => {
      if (wait) await c.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK_KEY.toString()]);
      else {
        const lock = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [ROLLUP_LOCK_KEY.toString()]);
        if (lock.rows[0]?.ok !== true) return { batches: 0, rows: 0 };
      }
      const r = await c.query<{ batches: number; n: number }>({ name: 'tollgate-rollup', text: FOLD_SQL, values: [this.foldBatches] });
      return { batches: r.rows[0]?.batches ?? 0, rows: r.rows[0]?.n ?? 0 };
    });
  }

  async billingNextStart(from: number, to: number): Promise<number | null> {
    const r = await this.pool.query<{ s: number | null }>(`SELECT MIN(start) AS s FROM ${BILLING_SOURCE} WHERE start >= $1 AND start < $2`, [from, to]);
    return r.rows[0]?.s ?? null;
  }

  async billingGroups(q: ExportGroupQuery): Promise<ExportGroupRow[]> {
    const { text, values } = billingGroupsSql(BILLING_SOURCE, q, (i) => `$${i}`);
    return billingGroupRows(q, (await this.pool.query<Record<string, unknown>>(text, values)).rows);
  }

  async top(q: TopQuery): Promise<TopRow[]> {
    const { text, values } = topSql(TOP_SOURCE[q.by] === 'billing' ? BILLING_SOURCE : HOUR_SOURCE, q, (i) => `$${i}`, ' COLLATE "C"');
    return topRows(q, (await this.pool.query<Record<string, unknown>>(text, values)).rows);
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
