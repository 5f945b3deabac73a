// Fleet status as a service: records the proxy status of every usage report, forgets processes not seen for
// forgetAfter (a sweep, at most every few seconds, run by reports and reads), and answers the views from the store,
// so every replica answers alike.
import type { ProxyStatus } from '../../contracts/usage-report.js';
import type { FleetStatusRepository } from './repository.js';
import { convergence, fleetGauges, fleetItems, type Convergence, type FleetItem, type TargetGauges, type TargetHead } from './state.js';

export interface FleetView { items: FleetItem[]; convergence: Convergence[]; gauges: TargetGauges[]; now: number }

export interface FleetServiceOptions {
  staleAfterSeconds: number;
  forgetAfterSeconds: number;
  /** Most rows kept per target (settings: fleetMaxRowsPerTarget). */
  maxRowsPerTarget: number;
  /** Each target's current configuration version and key-feed head (version null: not compiled yet). */
  heads: () => Promise<Map<string, { version: string | null; feedEpoch: string; feedHead: number }>>;
  now?: () => number;
}

export class FleetService {
  private lastSweep = 0;
  private readonly since = new Map<string, { version: string; since: number }>();
  private inflight: Promise<FleetView> | undefined;

  constructor(private readonly repo: FleetStatusRepository, readonly options: FleetServiceOptions) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  get staleAfterMs(): number { return this.options.staleAfterSeconds * 1000; }
  get forgetAfterMs(): number { return this.options.forgetAfterSeconds * 1000; }

  /** Records a report's status (per target, node and reporter). */
  async record(targetId: string, reporter: string, status: ProxyStatus): Promise<void> {
    const now = this.now();
    await this.repo.record(targetId, reporter, status, now, this.options.maxRowsPerTarget);
    await this.maybeSweep(now);
  }

  /** Deletes processes not seen for forgetAfter, at most every min(60 s, forgetAfter / 4) (and not under 1 s). */
  private async maybeSweep(now: number): Promise<void> {
    const every = Math.max(1000, Math.min(60_000, this.forgetAfterMs / 4));
    if (now - this.lastSweep < every) return;
    this.lastSweep = now;
    await this.repo.forgetBefore(now - this.forgetAfterMs);
  }

  async view(): Promise<FleetView> {
    const now = this.now();
    await this.maybeSweep(now);
    const [rows, raw] = await Promise.all([this.repo.all(), this.options.heads()]);
    const heads = new Map<string, TargetHead>();
    for (const [target, h] of raw) {
      let s = this.since.get(target);
      if (h.version !== null && s?.version !== h.version) {
        s = { version: h.version, since: now };
        this.since.set(target, s);
      }
      heads.set(target, { ...h, since: h.version === null ? null : s!.since });
    }
    // Rows past forgetAfter are gone even before the sweep deletes them.
    const kept = rows.filter((r) => now - r.lastSeen <= this.forgetAfterMs);
    const items = fleetItems(kept, heads, now, this.staleAfterMs);
    const conv = convergence(items, heads, now);
    return { items, convergence: conv, gauges: fleetGauges(items, conv), now };
  }

  /**
   * The view for a scrape: prom-client starts every gauge's collect at once, so the five gauges of one scrape share
   * the read in flight; the next scrape reads afresh.
   */
  gaugeView(): Promise<FleetView> {
    if (this.inflight === undefined) {
      const view = this.view();
      this.inflight = view;
      const clear = (): void => { if (this.inflight === view) this.inflight = undefined; };
      view.then(clear, clear);
    }
    return this.inflight;
  }
}
