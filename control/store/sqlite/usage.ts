// Usage ingestion and queries in SQLite. One IMMEDIATE transaction per batch: the batch id row (unique), the
// minute/hour/day buckets and the per-reporter fleet windows (per subscription) commit together or not at all, so a
// retried or concurrently duplicated batch is counted once, by any number of service processes sharing the file.
// Entries outside the reporter's scope are refused here, inside the same transaction that reads the keys.
import type { UsageRepository } from '../repository.js';
import type {
  FleetWindow, IngestResult, Limit, ReporterScope, UsageCounts, UsageEntry, UsageQuery, UsageReport, UsageSeriesPoint,
  UsageSummary,
} from '../types.js';
import { minuteAccepted } from '../../usage/report-rules.js';
import { bucketsBy, fleetIncrements, zeroStatus } from '../../usage/aggregate.js';
import { STATUS_CLASSES } from '../types.js';
import { FLEET_PERS, isFleetPer, windowStart, type FleetPer } from '../../usage/windows.js';
import type { Db } from './open.js';
import type { Durable } from './shared.js';
import type Database from 'better-sqlite3';

const TABLES = { minute: 'usage_minute', hour: 'usage_hour', day: 'usage_day' } as const;
const STATUS_COLUMNS = STATUS_CLASSES.map((c) => `status_${c}`);
/** How long a fleet window's counts are kept after it starts (the window's length plus slack). */
const FLEET_RETENTION: Record<FleetPer, number> = { minute: 300, hour: 3 * 3600, day: 2 * 86_400, month: 63 * 86_400 };
/**
 * A sync reply lists at most this many fleet windows: the filter reads at most 4 MiB of a reply (~90 bytes each).
 * Past it, the subscriptions with the largest counts come first; the rest are learned from later replies.
 */
export const MAX_SYNC_WINDOWS = 40_000;

/** A key as the report's scope sees it: its subscription and the windows its plan limits (with the limit). */
interface KeyFacts { consumerId: string; planId: string; inScope: boolean; caps: Map<FleetPer, number> }

const subscriptionOf = (planId: string, consumerId: string): string => `${planId}/${consumerId}`;

/** The largest limit per fleet window size: no correct filter admits more than that in one window. */
function capsOf(limits: Limit[]): Map<FleetPer, number> {
  const caps = new Map<FleetPer, number>();
  for (const l of limits) if (isFleetPer(l.per)) caps.set(l.per, Math.max(caps.get(l.per) ?? 0, l.requests));
  return caps;
}

export class SqliteUsage implements UsageRepository {
  private readonly insertBatch: Database.Statement;
  private readonly addBucket: Record<'minute' | 'hour' | 'day', Database.Statement>;
  private readonly addFleet: Database.Statement;
  private readonly keyFacts: Database.Statement;
  private readonly planApis: Database.Statement;
  private readonly apiExists: Database.Statement;
  private readonly fleetOthers: Database.Statement;
  private readonly fleetCurrent: Database.Statement;
  private readonly planLimits: Database.Statement;
  private lastPrune = 0;

  constructor(private readonly db: Db, private readonly durable: Durable) {
    this.insertBatch = db.prepare(
      `INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped, target_id, refused) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (batch_id) DO NOTHING`,
    );
    const upsert = (table: string): Database.Statement => db.prepare(
      `INSERT INTO ${table} (start, key_id, api_id, outcome, consumer_id, count, ${STATUS_COLUMNS.join(', ')})
       VALUES (?, ?, ?, ?, ?, ?, ${STATUS_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (start, key_id, api_id, outcome) DO UPDATE SET count = count + excluded.count,
       ${STATUS_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
    );
    this.addBucket = { minute: upsert(TABLES.minute), hour: upsert(TABLES.hour), day: upsert(TABLES.day) };
    // A reporter's count in a window never exceeds the plan's limit for it: a forged count cannot go past what a
    // correct filter could have admitted.
    this.addFleet = db.prepare(
      `INSERT INTO fleet_windows (plan_id, consumer_id, per, window_start, reporter, count) VALUES (?, ?, ?, ?, ?, MIN(?, ?))
       ON CONFLICT (plan_id, consumer_id, per, window_start, reporter) DO UPDATE SET count = MIN(count + excluded.count, ?)`,
    );
    this.keyFacts = db.prepare('SELECT k.consumer_id AS consumerId, k.plan_id AS planId, p.limits AS limits FROM api_keys k JOIN plans p ON p.id = k.plan_id WHERE k.id = ?');
    this.planApis = db.prepare('SELECT api_id AS apiId FROM plan_apis WHERE plan_id = ?');
    this.apiExists = db.prepare('SELECT 1 AS ok FROM apis WHERE id = ?');
    this.fleetOthers = db.prepare(
      `SELECT COALESCE(SUM(count), 0) AS n FROM fleet_windows
       WHERE plan_id = ? AND consumer_id = ? AND per = ? AND window_start = ? AND reporter <> ?`,
    );
    this.fleetCurrent = db.prepare(
      `SELECT plan_id AS planId, consumer_id AS consumerId, SUM(count) AS n FROM fleet_windows
       WHERE per = ? AND window_start = ? AND reporter <> ? GROUP BY plan_id, consumer_id HAVING n > 0 ORDER BY n DESC LIMIT ?`,
    );
    this.planLimits = db.prepare('SELECT limits FROM plans WHERE id = ?');
  }

  /** Whether a plan belongs to the scope: it includes at least one of the target's APIs (any, for an unrestricted one). */
  private planInScope(planId: string, scope: ReporterScope, memo: Map<string, boolean>): boolean {
    if (scope.apiIds === null) return true;
    let v = memo.get(planId);
    if (v === undefined) {
      v = (this.planApis.all(planId) as { apiId: string }[]).some((r) => scope.apiIds!.has(r.apiId));
      memo.set(planId, v);
    }
    return v;
  }

  private factsOf(report: UsageReport, scope: ReporterScope, planMemo: Map<string, boolean>): Map<string, KeyFacts | null> {
    const facts = new Map<string, KeyFacts | null>();
    for (const e of report.entries) {
      if (e.keyId === '' || facts.has(e.keyId)) continue;
      const row = this.keyFacts.get(e.keyId) as { consumerId: string; planId: string; limits: string } | undefined;
      facts.set(e.keyId, row === undefined ? null : {
        consumerId: row.consumerId, planId: row.planId, inScope: this.planInScope(row.planId, scope, planMemo),
        caps: capsOf(JSON.parse(row.limits) as Limit[]),
      });
    }
    return facts;
  }

  private apiInScope(apiId: string, scope: ReporterScope, memo: Map<string, boolean>): boolean {
    if (apiId === '') return true;
    let v = memo.get(apiId);
    if (v === undefined) {
      v = (scope.apiIds === null || scope.apiIds.has(apiId)) && this.apiExists.get(apiId) !== undefined;
      memo.set(apiId, v);
    }
    return v;
  }

  /** The entries this reporter may report: known keys and APIs of its scope, minutes in the accepted range. */
  private accepted(report: UsageReport, scope: ReporterScope, facts: Map<string, KeyFacts | null>, now: number): UsageEntry[] {
    const apiMemo = new Map<string, boolean>();
    return report.entries.filter((e) => {
      if (!minuteAccepted(e, now)) return false;
      if (e.keyId !== '' && facts.get(e.keyId)?.inScope !== true) return false;
      return this.apiInScope(e.apiId, scope, apiMemo);
    });
  }

  private fleetFor(report: UsageReport, reporter: string, facts: Map<string, KeyFacts | null>, now: number): FleetWindow[] {
    const fleet: FleetWindow[] = [];
    const done = new Set<string>();
    for (const f of facts.values()) {
      if (f === null || !f.inScope) continue;
      const sub = subscriptionOf(f.planId, f.consumerId);
      if (done.has(sub)) continue;
      done.add(sub);
      for (const per of FLEET_PERS) {
        if (!f.caps.has(per)) continue;
        const start = windowStart(per, now);
        const { n } = this.fleetOthers.get(f.planId, f.consumerId, per, start, reporter) as { n: number };
        fleet.push({ subscription: sub, per, windowStart: start, others: n });
      }
    }
    return fleet;
  }

  /** Every subscription of the scope with counts in the current windows of its plan's limits (a sync reply). */
  private syncFleet(scope: ReporterScope, reporter: string, planMemo: Map<string, boolean>, now: number): FleetWindow[] {
    const fleet: FleetWindow[] = [];
    const capsMemo = new Map<string, Map<FleetPer, number>>();
    for (const per of FLEET_PERS) {
      const start = windowStart(per, now);
      const rows = this.fleetCurrent.all(per, start, reporter, MAX_SYNC_WINDOWS) as { planId: string; consumerId: string; n: number }[];
      for (const r of rows) {
        if (fleet.length >= MAX_SYNC_WINDOWS) return fleet;
        if (!this.planInScope(r.planId, scope, planMemo)) continue;
        let caps = capsMemo.get(r.planId);
        if (caps === undefined) {
          const row = this.planLimits.get(r.planId) as { limits: string } | undefined;
          caps = row === undefined ? new Map() : capsOf(JSON.parse(row.limits) as Limit[]);
          capsMemo.set(r.planId, caps);
        }
        if (!caps.has(per)) continue;
        fleet.push({ subscription: subscriptionOf(r.planId, r.consumerId), per, windowStart: start, others: r.n });
      }
    }
    return fleet;
  }

  private prune(now: number): void {
    if (now - this.lastPrune < 60) return;
    this.lastPrune = now;
    const del = this.db.prepare('DELETE FROM fleet_windows WHERE per = ? AND window_start < ?');
    for (const per of FLEET_PERS) del.run(per, now - FLEET_RETENTION[per]);
  }

  async ingest(report: UsageReport, scope: ReporterScope, now: number): Promise<IngestResult> {
    // Fleet counts are kept per target and reporter: a reporter id used under another target's credential is another
    // reporter, so one target's proxies can neither add to nor hide from another's counts.
    const reporter = `${scope.targetId}:${report.reporter}`;
    const result = this.db.transaction((): IngestResult => {
      const planMemo = new Map<string, boolean>();
      const facts = this.factsOf(report, scope, planMemo);
      const entries = this.accepted(report, scope, facts, now);
      const refused = report.entries.length - entries.length;
      const fresh = this.insertBatch.run(report.batchId, report.reporter, now, entries.length, report.dropped, scope.targetId, refused).changes === 1;
      if (fresh) {
        const consumerOf = (keyId: string): string => facts.get(keyId)?.consumerId ?? '';
        for (const size of ['minute', 'hour', 'day'] as const) {
          const stmt = this.addBucket[size];
          for (const b of bucketsBy(entries, size)) {
            stmt.run(b.start, b.keyId, b.apiId, b.outcome, consumerOf(b.keyId), b.count, ...STATUS_CLASSES.map((c) => b.status[c]));
          }
        }
        const keyPers = (keyId: string): FleetPer[] => [...(facts.get(keyId)?.caps.keys() ?? [])];
        for (const inc of fleetIncrements(entries, keyPers)) {
          const f = facts.get(inc.keyId)!;
          const cap = f.caps.get(inc.per)!;
          this.addFleet.run(f.planId, f.consumerId, inc.per, inc.windowStart, reporter, inc.count, cap, cap);
        }
        this.prune(now);
      }
      const fleet = report.sync === true ? this.syncFleet(scope, reporter, planMemo, now) : this.fleetFor(report, reporter, facts, now);
      return { duplicate: !fresh, fleet, entries: entries.length, dropped: fresh ? report.dropped : 0, refused: fresh ? refused : 0 };
    }).immediate();
    // A duplicate is acknowledged too, and its first copy may still be waiting for its fsync: always wait.
    await this.durable();
    return result;
  }

  async query(q: UsageQuery): Promise<UsageSummary> {
    const where = ['start >= ?', 'start < ?'];
    const args: (string | number)[] = [windowStart(q.granularity, q.from), q.to];
    if (q.keyId !== undefined) { where.push('key_id = ?'); args.push(q.keyId); }
    if (q.consumerId !== undefined) { where.push('consumer_id = ?'); args.push(q.consumerId); }
    if (q.apiId !== undefined) { where.push('api_id = ?'); args.push(q.apiId); }
    const rows = this.db.prepare(
      `SELECT start, outcome, SUM(count) AS n, ${STATUS_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')}
       FROM ${TABLES[q.granularity]} WHERE ${where.join(' AND ')} GROUP BY start, outcome ORDER BY start`,
    ).all(...args) as ({ start: number; outcome: string; n: number } & Record<string, number>)[];
    const totals: UsageCounts = { allowed: 0, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0 };
    const upstreamStatus = zeroStatus();
    const series = new Map<number, UsageSeriesPoint>();
    for (const r of rows) {
      let point = series.get(r.start);
      if (point === undefined) {
        point = { start: r.start, allowed: 0, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0, upstreamStatus: zeroStatus() };
        series.set(r.start, point);
      }
      for (const c of STATUS_CLASSES) {
        const n = r[`status_${c}`] ?? 0;
        point.upstreamStatus[c] += n;
        upstreamStatus[c] += n;
      }
      const field = OUTCOME_FIELD[r.outcome];
      if (field === undefined) continue;
      point[field] += r.n;
      totals[field] += r.n;
    }
    return { totals, upstreamStatus, series: [...series.values()] };
  }

  async droppedTotal(): Promise<number> {
    return (this.db.prepare('SELECT COALESCE(SUM(dropped), 0) AS n FROM usage_batches').get() as { n: number }).n;
  }
}

const OUTCOME_FIELD: Record<string, keyof UsageCounts> = {
  allowed: 'allowed', rejected_quota: 'rejectedQuota', rejected_auth: 'rejectedAuth', rejected_forbidden: 'rejectedForbidden',
};
