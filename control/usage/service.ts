// Usage as a service: a report in, validated against the reporter's scope, stored once, answered with the fleet's
// counts; queries out. Storage is the UsageRepository's; every rule is here (docs/usage-report.md).
import type { KeyFacts, UsageRepository, UsageRow } from '../store/repository.js';
import type { Granularity, IngestResult, ReporterScope, UsageEntry, UsageQuery, UsageReport, UsageSummary } from '../store/types.js';
import { bucketsBy } from './aggregate.js';
import { fleetAdds, fleetForKeys, fleetForSync, planInScope } from './fleet.js';
import { minuteAccepted } from './report-rules.js';
import { FleetRetention, UsageRetention } from './retention.js';
import { summarize } from './summary.js';
import { windowStart } from './windows.js';

const SIZES: readonly Granularity[] = ['minute', 'hour', 'day'];

export class UsageService {
  private readonly retention: FleetRetention;
  private readonly usageRetention: UsageRetention;

  private rollupTimer: NodeJS.Timeout | undefined;
  private rolling: Promise<void> = Promise.resolve();

  /**
   * `rollupEveryMs`: how often minute rows are folded into hours and days (a backend that appends them, PostgreSQL;
   * 0 = only when asked). Queries include rows not rolled up yet, so this bounds table growth, not freshness.
   */
  constructor(private readonly repo: UsageRepository, options: { usageRetentionDays?: number; rollupEveryMs?: number } = {}) {
    this.retention = new FleetRetention(repo);
    this.usageRetention = new UsageRetention(repo, options.usageRetentionDays);
    const every = options.rollupEveryMs ?? 0;
    if (every > 0) {
      const tick = (): void => {
        this.rolling = this.rollup().catch(() => undefined).then(() => {
          if (this.rollupTimer !== undefined) this.rollupTimer = setTimeout(tick, every).unref();
        });
      };
      this.rollupTimer = setTimeout(tick, every).unref();
    }
  }

  /**
   * Stores a report once (by batch id) and answers with the fleet's counts. Entries outside the scope or the accepted
   * time range are refused and counted. The facts are read before the batch is written: a key deleted in between is
   * counted as it was a moment ago, which is what its proxy saw.
   */
  async ingest(report: UsageReport, scope: ReporterScope, now: number): Promise<IngestResult> {
    // Fleet counts are kept per target and reporter: a reporter id used under another target's credential is another
    // reporter, so one target's proxies can neither add to nor hide from another's counts.
    const reporter = `${scope.targetId}:${report.reporter}`;
    const all = await this.repo.keyFacts([...new Set(report.entries.map((e) => e.keyId).filter((k) => k !== ''))]);
    const facts = new Map([...all].filter(([, f]) => planInScope(f.planApiIds, scope)));
    const named = [...new Set(report.entries.map((e) => e.apiId).filter((a) => a !== '' && (scope.apiIds === null || scope.apiIds.has(a))))];
    const apis = await this.repo.existingApis(named);
    const entries = report.entries.filter((e) => minuteAccepted(e, now) && (e.keyId === '' || facts.has(e.keyId)) && (e.apiId === '' || apis.has(e.apiId)));
    const refused = report.entries.length - entries.length;
    const fresh = await this.repo.storeBatch({
      batchId: report.batchId, reporter: report.reporter, targetId: scope.targetId, receivedAt: now,
      entries: entries.length, dropped: report.dropped, refused,
      rows: Object.fromEntries(SIZES.map((size) => [size, rowsOf(entries, size, facts)])) as Record<Granularity, UsageRow[]>,
      fleet: fleetAdds(entries, facts, reporter),
    });
    if (fresh) {
      await this.retention.maybePrune(now);
      await this.usageRetention.maybeDrop(now);
    }
    const fleet = report.sync === true ? await fleetForSync(this.repo, scope, reporter, now) : await fleetForKeys(this.repo, facts.values(), reporter, now);
    return { duplicate: !fresh, fleet, entries: entries.length, dropped: fresh ? report.dropped : 0, refused: fresh ? refused : 0 };
  }

  /** Folds pending minute rows into hours and days now; resolves with how many. */
  async rollup(): Promise<number> {
    return this.repo.rollup();
  }

  /** Stops the rollup timer and waits for a run in progress (before the store closes). */
  async close(): Promise<void> {
    if (this.rollupTimer !== undefined) clearTimeout(this.rollupTimer);
    this.rollupTimer = undefined;
    await this.rolling;
  }

  async query(q: UsageQuery): Promise<UsageSummary> {
    return summarize(await this.repo.query({ ...q, from: windowStart(q.granularity, q.from) }));
  }

  droppedTotal(): Promise<number> {
    return this.repo.droppedTotal();
  }
}

function rowsOf(entries: readonly UsageEntry[], size: Granularity, facts: ReadonlyMap<string, KeyFacts>): UsageRow[] {
  return bucketsBy([...entries], size).map((b) => ({ ...b, consumerId: facts.get(b.keyId)?.consumerId ?? '' }));
}
