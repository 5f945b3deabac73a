// Usage storage in SQLite (the rules are in control/usage/). storeBatch is one IMMEDIATE transaction: the batch id row
// (unique) and, only when it is new, the minute/hour/day rows and the fleet additions, so a retried or concurrently
// duplicated batch is stored once, by any number of service processes sharing the file.
import type {
  ExportGroupQuery, ExportGroupRow, FleetWindowKey, KeyFacts, OperationLimitFacts, PlanFacts, StoredBatch, TopQuery, TopRow, UsageQueryRow, UsageRepository,
} from '../repository.js';
import { TOP_SOURCE, topRows, topSql } from '../usage-top-sql.js';
import { billingGroupRows, billingGroupsSql } from '../billing-sql.js';
import { billingHours } from '../billing-rows.js';
import { STATUS_CLASSES, type FleetPer, type OperationLimit, type UsageQuery } from '../types.js';
import type { Db } from './open.js';
import { parseLimits, type Durable } from './shared.js';
import type Database from 'better-sqlite3';
import type { CreditBalance } from '../../credits/balance.js';
import { creditFromRow, type CreditRow } from '../credit-row.js';
import type { CreditRefillPer } from '../../../contracts/key-feed.js';

const TABLES = { minute: 'usage_minute', hour: 'usage_hour', day: 'usage_day' } as const;
const STATUS_COLUMNS = STATUS_CLASSES.map((c) => `status_${c}`);
const SIZES = ['minute', 'hour', 'day'] as const;
/**
 * A row's units: NULL in rows stored before migration 009, when every allowed request was one unit (and rejected
 * requests spend none). Read rather than backfilled, so the migration rewrites no row.
 */
const UNITS_OF = (row: string): string => `COALESCE(${row}units, CASE WHEN ${row}outcome = 'allowed' THEN ${row}count ELSE 0 END)`;

export class SqliteUsage implements UsageRepository {
  private readonly insertBatch: Database.Statement;
  private readonly addRow: Record<(typeof SIZES)[number], Database.Statement>;
  private readonly addFleet: Database.Statement;
  private readonly addBilling: Database.Statement;
  private readonly billingNext: Database.Statement;
  private readonly keyFactsStmt: Database.Statement;
  private readonly planApis: Database.Statement;
  private readonly planLimits: Database.Statement;
  private readonly planOperationLimits: Database.Statement;
  private readonly apiExists: Database.Statement;
  private readonly fleetOthersStmt: Database.Statement;
  private readonly fleetCurrentStmt: Database.Statement;
  private readonly addCredit: Database.Statement;
  private readonly pruneCredit: Database.Statement;
  private readonly creditOthersStmt: Database.Statement;

  constructor(private readonly db: Db, private readonly durable: Durable) {
    this.insertBatch = db.prepare(
      `INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped, target_id, refused) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (batch_id) DO NOTHING`,
    );
    const upsert = (table: string): Database.Statement => db.prepare(
      `INSERT INTO ${table} (start, key_id, api_id, outcome, consumer_id, count, units, would_reject, ${STATUS_COLUMNS.join(', ')})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ${STATUS_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (start, key_id, api_id, outcome) DO UPDATE SET count = count + excluded.count,
       units = ${UNITS_OF(`${table}.`)} + excluded.units, would_reject = COALESCE(${table}.would_reject, 0) + excluded.would_reject,
       ${STATUS_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
    );
    this.addRow = { minute: upsert(TABLES.minute), hour: upsert(TABLES.hour), day: upsert(TABLES.day) };
    this.addBilling = db.prepare(
      `INSERT INTO usage_billing_hour (start, consumer_id, plan_id, api_id, operation_id, outcome, count, units, would_reject, ${STATUS_COLUMNS.join(', ')})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ${STATUS_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (start, consumer_id, plan_id, api_id, operation_id, outcome) DO UPDATE SET count = count + excluded.count,
       units = units + excluded.units, would_reject = would_reject + excluded.would_reject, ${STATUS_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
    );
    this.billingNext = db.prepare('SELECT MIN(start) AS s FROM usage_billing_hour WHERE start >= ? AND start < ?');
    this.addFleet = db.prepare(
      `INSERT INTO fleet_windows (plan_id, consumer_id, per, window_start, reporter, scope, count) VALUES (?, ?, ?, ?, ?, ?, MIN(?, ?))
       ON CONFLICT (plan_id, consumer_id, per, window_start, reporter, scope) DO UPDATE SET count = MIN(count + excluded.count, ?)`,
    );
    // The subscription's credit balance comes with the key (absent for most): ingest touches only those that have one.
    this.keyFactsStmt = db.prepare(`SELECT k.consumer_id AS consumerId, k.plan_id AS planId, p.limits AS limits, c.grant_id AS grantId, c.since AS since,
      c.refill_per AS refillPer FROM api_keys k JOIN plans p ON p.id = k.plan_id
      LEFT JOIN credit_balances c ON c.subscription = k.plan_id || '/' || k.consumer_id WHERE k.id = ?`);
    this.addCredit = db.prepare(`INSERT INTO credit_spend (grant_id, from_minute, reporter, units) VALUES (?, ?, ?, ?)
      ON CONFLICT (grant_id, from_minute, reporter) DO UPDATE SET units = units + excluded.units`);
    this.pruneCredit = db.prepare('DELETE FROM credit_spend WHERE grant_id = ? AND from_minute < ?');
    this.creditOthersStmt = db.prepare('SELECT COALESCE(SUM(units), 0) AS n FROM credit_spend WHERE grant_id = ? AND from_minute = ? AND reporter <> ?');
    this.planApis = db.prepare('SELECT api_id AS apiId FROM plan_apis WHERE plan_id = ?');
    this.planLimits = db.prepare('SELECT limits FROM plans WHERE id = ?');
    this.planOperationLimits = db.prepare(
      `SELECT o.api_id AS apiId, o.id AS operationId, o.limits AS limits FROM api_operations o JOIN plan_apis pa ON pa.api_id = o.api_id
       WHERE pa.plan_id = ? AND o.limits IS NOT NULL ORDER BY o.api_id, o.id`);
    this.apiExists = db.prepare('SELECT 1 AS ok FROM apis WHERE id = ?');
    this.fleetOthersStmt = db.prepare(
      `SELECT COALESCE(SUM(count), 0) AS n FROM fleet_windows
       WHERE plan_id = ? AND consumer_id = ? AND per = ? AND window_start = ? AND scope = ? AND reporter <> ?`,
    );
    this.fleetCurrentStmt = db.prepare(
      `SELECT plan_id AS planId, consumer_id AS consumerId, scope, SUM(count) AS others FROM fleet_windows
       WHERE per = ? AND window_start = ? AND reporter <> ? GROUP BY plan_id, consumer_id, scope HAVING others > 0
       ORDER BY others DESC, plan_id, consumer_id, scope LIMIT ?`,
    );
  }

  private apiIdsOf(planId: string): string[] {
    return (this.planApis.all(planId) as { apiId: string }[]).map((r) => r.apiId);
  }

  /** The default limits of the operations of a plan's APIs (scoped fleet windows count them). */
  private operationLimitsOf(planId: string): OperationLimitFacts[] {
    return (this.planOperationLimits.all(planId) as { apiId: string; operationId: string; limits: string }[])
      .map((r) => ({ apiId: r.apiId, operationId: r.operationId, limits: JSON.parse(r.limits) as OperationLimit[] }));
  }

  async keyFacts(keyIds: readonly string[]): Promise<Map<string, KeyFacts>> {
    const facts = new Map<string, KeyFacts>();
    const apisOfPlan = new Map<string, string[]>();
    const opsOfPlan = new Map<string, OperationLimitFacts[]>();
    for (const keyId of keyIds) {
      const row = this.keyFactsStmt.get(keyId) as { consumerId: string; planId: string; limits: string; grantId: string | null; since: number; refillPer: CreditRefillPer | null } | undefined;
      if (row === undefined) continue;
      let planApiIds = apisOfPlan.get(row.planId);
      if (planApiIds === undefined) apisOfPlan.set(row.planId, planApiIds = this.apiIdsOf(row.planId));
      let operationLimits = opsOfPlan.get(row.planId);
      if (operationLimits === undefined) opsOfPlan.set(row.planId, operationLimits = this.operationLimitsOf(row.planId));
      facts.set(keyId, {
        keyId, consumerId: row.consumerId, planId: row.planId, limits: parseLimits(row.limits), planApiIds,
        ...(operationLimits.length > 0 ? { operationLimits } : {}),
        ...(row.grantId !== null ? { credit: { grant: row.grantId, since: row.since, refillPer: row.refillPer } } : {}),
      });
    }
    return facts;
  }

  async planFacts(planIds: readonly string[]): Promise<Map<string, PlanFacts>> {
    const facts = new Map<string, PlanFacts>();
    for (const planId of planIds) {
      const row = this.planLimits.get(planId) as { limits: string } | undefined;
      if (row === undefined) continue;
      const operationLimits = this.operationLimitsOf(planId);
      facts.set(planId, { limits: parseLimits(row.limits), apiIds: this.apiIdsOf(planId), ...(operationLimits.length > 0 ? { operationLimits } : {}) });
    }
    return facts;
  }

  async existingApis(apiIds: readonly string[]): Promise<Set<string>> {
    return new Set(apiIds.filter((id) => this.apiExists.get(id) !== undefined));
  }

  async storeBatch(b: StoredBatch): Promise<boolean> {
    const fresh = this.db.transaction((): boolean => {
      if (this.insertBatch.run(b.batchId, b.reporter, b.receivedAt, b.entries, b.dropped, b.targetId, b.refused).changes !== 1) return false;
      for (const size of SIZES) {
        const stmt = this.addRow[size];
        for (const r of b.rows[size]) stmt.run(r.start, r.keyId, r.apiId, r.outcome, r.consumerId, r.count, r.units, r.wouldReject ?? 0, ...STATUS_CLASSES.map((c) => r.status[c]));
      }
      for (const r of billingHours(b.rows.minute)) {
        this.addBilling.run(r.start, r.consumerId, r.planId, r.apiId, r.operationId, r.outcome, r.count, r.units, r.wouldReject, ...STATUS_CLASSES.map((c) => r.status[c]));
      }
      for (const f of b.fleet) this.addFleet.run(f.planId, f.consumerId, f.per, f.windowStart, f.reporter, f.scope ?? '', f.count, f.cap, f.cap);
      // Credit spend: in the batch's transaction, so a duplicate batch never counts twice.
      for (const p of b.creditPrune ?? []) this.pruneCredit.run(p.grant, p.before);
      for (const c of b.credits ?? []) this.addCredit.run(c.grant, c.from, c.reporter, c.units);
      return true;
    }).immediate();
    // A duplicate is acknowledged too, and its first copy may still be waiting for its fsync: always wait.
    await this.durable();
    return fresh;
  }

  /** Rolled up inside storeBatch already: one writer, so no row is ever contended. */
  async rollup(): Promise<number> {
    return 0;
  }

  async fleetOthers(windows: readonly FleetWindowKey[], reporter: string): Promise<number[]> {
    return windows.map((w) => (this.fleetOthersStmt.get(w.planId, w.consumerId, w.per, w.windowStart, w.scope ?? '', reporter) as { n: number }).n);
  }

  async creditOthers(grants: readonly { grant: string; from: number }[], reporter: string): Promise<number[]> {
    return grants.map((g) => (this.creditOthersStmt.get(g.grant, g.from, reporter) as { n: number }).n);
  }

  async creditBalances(): Promise<CreditBalance[]> {
    return (this.db.prepare('SELECT * FROM credit_balances ORDER BY subscription').all() as CreditRow[]).map(creditFromRow);
  }

  async fleetCurrent(per: FleetPer, windowStart: number, reporter: string, limit: number): Promise<{ planId: string; consumerId: string; scope: string; others: number }[]> {
    return this.fleetCurrentStmt.all(per, windowStart, reporter, limit) as { planId: string; consumerId: string; scope: string; others: number }[];
  }

  async pruneFleet(before: Record<FleetPer, number>): Promise<void> {
    const del = this.db.prepare('DELETE FROM fleet_windows WHERE per = ? AND window_start < ?');
    this.db.transaction(() => {
      for (const [per, cutoff] of Object.entries(before)) del.run(per, cutoff);
    })();
  }

  async query(q: UsageQuery): Promise<UsageQueryRow[]> {
    const where = ['start >= ?', 'start < ?'];
    const args: (string | number)[] = [q.from, q.to];
    if (q.keyId !== undefined) { where.push('key_id = ?'); args.push(q.keyId); }
    if (q.consumerId !== undefined) { where.push('consumer_id = ?'); args.push(q.consumerId); }
    if (q.apiId !== undefined) { where.push('api_id = ?'); args.push(q.apiId); }
    const rows = this.db.prepare(
      `SELECT start, outcome, SUM(count) AS n, SUM(${UNITS_OF('')}) AS units, SUM(COALESCE(would_reject, 0)) AS would_reject, ${STATUS_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')}
       FROM ${TABLES[q.granularity]} WHERE ${where.join(' AND ')} GROUP BY start, outcome ORDER BY start`,
    ).all(...args) as ({ start: number; outcome: string; n: number; units: number; would_reject: number } & Record<string, number>)[];
    return rows.map((r) => ({
      start: r.start, outcome: r.outcome, count: r.n, units: r.units, wouldReject: r.would_reject,
      status: Object.fromEntries(STATUS_CLASSES.map((c) => [c, r[`status_${c}`] ?? 0])) as UsageQueryRow['status'],
    }));
  }

  async billingNextStart(from: number, to: number): Promise<number | null> {
    return (this.billingNext.get(from, to) as { s: number | null }).s;
  }

  async billingGroups(q: ExportGroupQuery): Promise<ExportGroupRow[]> {
    const { text, values } = billingGroupsSql('usage_billing_hour', q, () => '?');
    return billingGroupRows(q, this.db.prepare(text).all(...values) as Record<string, unknown>[]);
  }

  async top(q: TopQuery): Promise<TopRow[]> {
    // usage_hour's units and would_reject are NULL in rows written before they existed (read as UNITS_OF says).
    const source = TOP_SOURCE[q.by] === 'billing' ? 'usage_billing_hour'
      : `(SELECT start, key_id, api_id, outcome, consumer_id, count, ${UNITS_OF('')} AS units, COALESCE(would_reject, 0) AS would_reject FROM usage_hour)`;
    const { text, values } = topSql(source, q, () => '?');
    return topRows(q, this.db.prepare(text).all(...values) as Record<string, unknown>[]);
  }

  async droppedTotal(): Promise<number> {
    return (this.db.prepare('SELECT COALESCE(SUM(dropped), 0) AS n FROM usage_batches').get() as { n: number }).n;
  }

  /** Retention without partitions: a DELETE over the primary key's leading column (start). */
  async dropUsageBefore(before: number): Promise<void> {
    this.db.prepare('DELETE FROM usage_minute WHERE start < ?').run(before);
    await this.durable();
  }
}
