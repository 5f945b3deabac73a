// A replica's copy of the fleet counts (in units: docs/usage-report.md "Units") of the current windows, so a usage reply
// is computed in memory instead of with one database lookup per window (docs/control.md, "Ingest throughput on
// PostgreSQL"). It is reloaded in the background when a reply finds it older than `refreshMs`; this replica's own
// stored additions are applied at once, so a replica always sees its own writes and other replicas' within about
// `refreshMs` (docs/usage-report.md, "Reply").
import type { FleetAdd, FleetCount, FleetWindowKey } from '../store/repository.js';
import type { FleetPer } from '../store/types.js';
import { FLEET_PERS, windowStart } from './windows.js';

interface Window { total: number; byReporter: Map<string, number> }

const windowId = (planId: string, consumerId: string, per: string, start: number, scope: string | undefined): string =>
  `${planId}\u0000${consumerId}\u0000${per}\u0000${start}\u0000${scope ?? ''}`;

export interface FleetCacheOptions {
  /** Every reporter's count in these windows, as stored. */
  load: (windows: readonly { per: FleetPer; windowStart: number }[]) => Promise<FleetCount[]>;
  refreshMs: number;
  /** Milliseconds, for the age of the copy; unix seconds are derived from it for the current windows. */
  clock?: () => number;
}

export class FleetCache {
  private windows = new Map<string, Window>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;
  /** Bumped when a load starts: a write that began after that is not in the load's snapshot. */
  private generation = 0;
  /** Additions of writes that began while the current load runs, applied again to the loaded copy. */
  private replay: FleetAdd[][] = [];
  private readonly clock: () => number;

  constructor(private readonly o: FleetCacheOptions) {
    this.clock = o.clock ?? Date.now;
  }

  /** Call before a write; pass the result to `added` once it is stored. */
  beginWrite(): number {
    return this.generation;
  }

  /**
   * Applies a stored batch's additions (each reporter's window capped at `cap`, as the store caps it). A write that
   * began before the running load started may or may not be in that load's snapshot: it is not replayed, so until the
   * next load it may be missing here (never counted twice).
   */
  added(adds: readonly FleetAdd[], writeGeneration: number): void {
    applyAdds(this.windows, adds);
    if (this.loading !== undefined && writeGeneration === this.generation) this.replay.push([...adds]);
  }

  /** For each window, the sum of every reporter's count but `reporter`'s. Waits for the first load only. */
  async others(windows: readonly FleetWindowKey[], reporter: string): Promise<number[]> {
    if (this.clock() - this.loadedAt >= this.o.refreshMs) {
      const load = this.refresh();
      if (this.loadedAt === Number.NEGATIVE_INFINITY) await load;
    }
    return windows.map((w) => {
      const c = this.windows.get(windowId(w.planId, w.consumerId, w.per, w.windowStart, w.scope));
      return c === undefined ? 0 : c.total - (c.byReporter.get(reporter) ?? 0);
    });
  }

  /** Reloads the current windows (one load at a time); a failed load keeps the old copy and is retried next time. */
  refresh(): Promise<void> {
    if (this.loading !== undefined) return this.loading;
    this.generation++;
    this.replay = [];
    const startedAt = this.clock();
    const now = Math.floor(startedAt / 1000);
    const current = FLEET_PERS.map((per) => ({ per, windowStart: windowStart(per, now) }));
    this.loading = this.o.load(current).then((rows) => {
      const fresh = new Map<string, Window>();
      for (const r of rows) {
        const id = windowId(r.planId, r.consumerId, r.per, r.windowStart, r.scope);
        let w = fresh.get(id);
        if (w === undefined) fresh.set(id, w = { total: 0, byReporter: new Map() });
        w.total += r.count;
        w.byReporter.set(r.reporter, (w.byReporter.get(r.reporter) ?? 0) + r.count);
      }
      for (const adds of this.replay) applyAdds(fresh, adds);
      this.windows = fresh;
      this.loadedAt = startedAt;
    }, () => undefined).finally(() => {
      this.loading = undefined;
      this.replay = [];
    });
    return this.loading;
  }

  /** Resolves once no load is running (before the store closes). */
  async idle(): Promise<void> {
    await this.loading;
  }
}

function applyAdds(windows: Map<string, Window>, adds: readonly FleetAdd[]): void {
  for (const a of adds) {
    const id = windowId(a.planId, a.consumerId, a.per, a.windowStart, a.scope);
    let w = windows.get(id);
    if (w === undefined) windows.set(id, w = { total: 0, byReporter: new Map() });
    const before = w.byReporter.get(a.reporter) ?? 0;
    const after = Math.min(before + a.count, a.cap);
    w.byReporter.set(a.reporter, after);
    w.total += after - before;
  }
}
