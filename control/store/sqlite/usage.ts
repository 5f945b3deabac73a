// Usage ingestion and queries in SQLite. One IMMEDIATE transaction per batch: the batch id row (unique), the
// minute/hour/day buckets and the per-reporter fleet windows commit together or not at all, so a retried or
// concurrently duplicated batch is counted once, by any number of service processes sharing the file.
import type { UsageRepository } from '../repository.js';
import type {
  FleetWindow, IngestResult, Limit, UsageCounts, UsageQuery, UsageReport, UsageSeriesPoint, UsageSummary,
} from '../types.js';
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

interface KeyPlan { consumerId: string; pers: FleetPer[] }

export class SqliteUsage implements UsageRepository {
  private readonly insertBatch: Database.Statement;
  private readonly addBucket: Record<'minute' | 'hour' | 'day', Database.Statement>;
  private readonly addFleet: Database.Statement;
  private readonly keyPlan: Database.Statement;
  private readonly fleetOthers: Database.Statement;
  private lastPrune = 0;

  constructor(private readonly db: Db, private readonly durable: Durable) {
    this.insertBatch = db.prepare(
      'INSERT INTO usage_batches (batch_id, reporter, received_at, entries, dropped) VALUES (?, ?, ?, ?, ?) ON CONFLICT (batch_id) DO NOTHING',
    );
    const upsert = (table: string): Database.Statement => db.prepare(
      `INSERT INTO ${table} (start, key_id, api_id, outcome, consumer_id, count, ${STATUS_COLUMNS.join(', ')})
       VALUES (?, ?, ?, ?, ?, ?, ${STATUS_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (start, key_id, api_id, outcome) DO UPDATE SET count = count + excluded.count,
       ${STATUS_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
    );
    this.addBucket = { minute: upsert(TABLES.minute), hour: upsert(TABLES.hour), day: upsert(TABLES.day) };
    this.addFleet = db.prepare(
      `INSERT INTO fleet_windows (key_id, per, window_start, reporter, count) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (key_id, per, window_start, reporter) DO UPDATE SET count = count + excluded.count`,
    );
    this.keyPlan = db.prepare('SELECT k.consumer_id AS consumerId, p.limits AS limits FROM api_keys k JOIN plans p ON p.id = k.plan_id WHERE k.id = ?');
    this.fleetOthers = db.prepare(
      'SELECT COALESCE(SUM(count), 0) AS n FROM fleet_windows WHERE key_id = ? AND per = ? AND window_start = ? AND reporter <> ?',
    );
  }

  private plansOf(report: UsageReport): Map<string, KeyPlan> {
    const plans = new Map<string, KeyPlan>();
    for (const e of report.entries) {
      if (e.keyId === '' || plans.has(e.keyId)) continue;
      const row = this.keyPlan.get(e.keyId) as { consumerId: string; limits: string } | undefined;
      const pers = row === undefined ? [] : [...new Set((JSON.parse(row.limits) as Limit[]).map((l) => l.per).filter(isFleetPer))];
      plans.set(e.keyId, { consumerId: row?.consumerId ?? '', pers: FLEET_PERS.filter((p) => pers.includes(p)) });
    }
    return plans;
  }

  private fleetFor(report: UsageReport, plans: Map<string, KeyPlan>, now: number): FleetWindow[] {
    const fleet: FleetWindow[] = [];
    for (const [keyId, plan] of plans) {
      for (const per of plan.pers) {
        const start = windowStart(per, now);
        const { n } = this.fleetOthers.get(keyId, per, start, report.reporter) as { n: number };
        fleet.push({ keyId, per, windowStart: start, others: n });
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

  async ingest(report: UsageReport, now: number): Promise<IngestResult> {
    const result = this.db.transaction((): IngestResult => {
      const plans = this.plansOf(report);
      const fresh = this.insertBatch.run(report.batchId, report.reporter, now, report.entries.length, report.dropped).changes === 1;
      if (fresh) {
        const consumerOf = (keyId: string): string => plans.get(keyId)?.consumerId ?? '';
        for (const size of ['minute', 'hour', 'day'] as const) {
          const stmt = this.addBucket[size];
          for (const b of bucketsBy(report.entries, size)) {
            stmt.run(b.start, b.keyId, b.apiId, b.outcome, consumerOf(b.keyId), b.count, ...STATUS_CLASSES.map((c) => b.status[c]));
          }
        }
        for (const inc of fleetIncrements(report.entries, (keyId) => plans.get(keyId)?.pers ?? [])) {
          this.addFleet.run(inc.keyId, inc.per, inc.windowStart, report.reporter, inc.count);
        }
        this.prune(now);
      }
      return { duplicate: !fresh, fleet: this.fleetFor(report, plans, now), entries: report.entries.length, dropped: fresh ? report.dropped : 0 };
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
