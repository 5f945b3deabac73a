// Usage as a service: a report in, validated against the reporter's scope, stored once, answered with the fleet's
// counts; queries out. Storage is the UsageRepository's; every rule is here (docs/usage-report.md).
import type { KeyFacts, UsageRepository, UsageRow } from '../store/repository.js';
import type { Granularity, IngestResult, ReporterScope, UsageEntry, UsageQuery, UsageReport, UsageSummary } from '../store/types.js';
import { bucketsBy, minuteRows } from './aggregate.js';
import { fleetAdds, fleetForKeys, fleetForSync, planInScope, type FleetOthersSource } from './fleet.js';
import { FleetCache } from './fleet-cache.js';
import { FactsCache } from './facts-cache.js';
import type { ChangeFeed } from '../store/changes.js';
import { minuteAccepted } from './report-rules.js';
import { FleetRetention, UsageRetention } from './retention.js';
import { summarize } from './summary.js';
import { windowStart } from './windows.js';
import type { CreditSpend } from '../../contracts/key-feed.js';
import { creditAdds, creditPrune } from '../credits/balance.js';
import { creditSpendForKeys, creditSpendForSync } from '../credits/spend.js';

/** An ingest's outcome with the fleet's spend against the report's credit balances (all of the scope's on sync). */
export type IngestReply = IngestResult & { creditSpend: CreditSpend[] };

const SIZES: readonly Granularity[] = ['minute', 'hour', 'day'];
/** How old a replica's copy of the fleet counts may get before a reply reloads it (in the background). */
export const FLEET_REFRESH_MS = 1000;

export class UsageService {
  private readonly retention: FleetRetention;
  private readonly usageRetention: UsageRetention;

  private rollupTimer: NodeJS.Timeout | undefined;
  private rolling: Promise<void> = Promise.resolve();
  /** Only for a backend that can list the current windows' counts (PostgreSQL, several replicas). */
  private readonly fleetCache: FleetCache | undefined;
  /** Where ordinary replies read the fleet's counts: the cache when there is one, else the repository. */
  private readonly fleetSource: FleetOthersSource;
  /** Key and API facts, when the store's change feed says when to forget them. */
  private readonly facts: FactsCache | undefined;

  /**
   * `rollupEveryMs`: how often minute rows are folded into hours and days (a backend that appends them, PostgreSQL;
   * 0 = only when asked). Queries include rows not rolled up yet, so this bounds table growth, not freshness.
   * `fleetRefreshMs`: how stale other replicas' fleet counts may be in a reply, on a backend with `fleetCounts` (0 =
   * read the repository on every reply). `changes`: the store's change feed; with it, key and API facts are kept in
   * memory and forgotten on every change (on PostgreSQL the feed carries other replicas' changes too).
   */
  constructor(private readonly repo: UsageRepository, options: { usageRetentionDays?: number; rollupEveryMs?: number; fleetRefreshMs?: number; changes?: ChangeFeed } = {}) {
    this.retention = new FleetRetention(repo);
    if (options.changes !== undefined) this.facts = new FactsCache(repo, options.changes);
    const refreshMs = options.fleetRefreshMs ?? FLEET_REFRESH_MS;
    if (repo.fleetCounts !== undefined && refreshMs > 0) {
      const cache = new FleetCache({ load: (windows) => repo.fleetCounts!(windows), refreshMs });
      this.fleetCache = cache;
      this.fleetSource = { fleetOthers: (windows, reporter) => cache.others(windows, reporter) };
    } else this.fleetSource = repo;
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
  async ingest(report: UsageReport, scope: ReporterScope, now: number): Promise<IngestReply> {
    // Fleet counts are kept per target and reporter: a reporter id used under another target's credential is another
    // reporter, so one target's proxies can neither add to nor hide from another's counts.
    const reporter = `${scope.targetId}:${report.reporter}`;
    const keyIds = new Set<string>();
    const named = new Set<string>();
    for (const e of report.entries) {
      if (e.keyId !== '') keyIds.add(e.keyId);
      if (e.apiId !== '' && (scope.apiIds === null || scope.apiIds.has(e.apiId))) named.add(e.apiId);
    }
    const facts = new Map<string, KeyFacts>();
    const source = this.facts ?? this.repo;
    for (const [id, f] of await source.keyFacts([...keyIds])) if (planInScope(f.planApiIds, scope)) facts.set(id, f);
    const apis = await source.existingApis([...named]);
    const entries = report.entries.filter((e) => minuteAccepted(e, now) && (e.keyId === '' || facts.has(e.keyId)) && (e.apiId === '' || apis.has(e.apiId)));
    const refused = report.entries.length - entries.length;
    // Only the granularities the backend stores per batch (PostgreSQL rolls hours and days up itself).
    const rows: Record<Granularity, UsageRow[]> = { minute: [], hour: [], day: [] };
    for (const size of this.repo.batchSizes ?? SIZES) rows[size] = rowsOf(entries, size, facts);
    const fleet = fleetAdds(entries, facts, reporter, now);
    // Only subscriptions with a credit balance spend (stored with the batch, so a duplicate never counts twice).
    const credits = creditAdds(entries, facts, reporter, now);
    const generation = this.fleetCache?.beginWrite() ?? 0;
    const fresh = await this.repo.storeBatch({
      batchId: report.batchId, reporter: report.reporter, targetId: scope.targetId, receivedAt: now,
      entries: entries.length, dropped: report.dropped, refused, rows, fleet,
      ...(credits.length > 0 ? { credits, creditPrune: creditPrune(credits, facts.values(), now) } : {}),
    });
    if (fresh) {
      this.fleetCache?.added(fleet, generation);
      await this.retention.maybePrune(now);
      await this.usageRetention.maybeDrop(now);
    }
    const replyFleet = report.sync === true ? await fleetForSync(this.repo, scope, reporter, now) : await fleetForKeys(this.fleetSource, facts.values(), reporter, now);
    const creditSpend = report.sync === true ? await creditSpendForSync(this.repo, scope, reporter, now) : await creditSpendForKeys(this.repo, facts.values(), reporter, now);
    let wouldReject = 0;
    if (fresh) for (const e of entries) wouldReject += e.wouldReject ?? 0;
    return { duplicate: !fresh, fleet: replyFleet, entries: entries.length, dropped: fresh ? report.dropped : 0, refused: fresh ? refused : 0, wouldReject, creditSpend };
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
    await this.fleetCache?.idle();
    this.facts?.close();
  }

  async query(q: UsageQuery): Promise<UsageSummary> {
    return summarize(await this.repo.query({ ...q, from: windowStart(q.granularity, q.from) }));
  }

  droppedTotal(): Promise<number> {
    return this.repo.droppedTotal();
  }
}

function rowsOf(entries: readonly UsageEntry[], size: Granularity, facts: ReadonlyMap<string, KeyFacts>): UsageRow[] {
  const consumerOf = (keyId: string): string => facts.get(keyId)?.consumerId ?? '';
  // A report holds one entry per minute, key, API and outcome: minute rows need no merging.
  // Billing attributes usage to the plan the key is on when its report is stored (docs/usage-export.md).
  if (size === 'minute') return minuteRows(entries, consumerOf, (keyId) => facts.get(keyId)?.planId ?? '');
  return bucketsBy([...entries], size).map((b) => ({ ...b, consumerId: consumerOf(b.keyId) }));
}
