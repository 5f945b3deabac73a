// How long usage is kept. Fleet counts: a window's counts are only asked for while it is current, so each is kept for
// the window's length plus slack, and pruning runs at most once a minute. Minute-level usage: kept for
// TOLLGATE_USAGE_RETENTION_DAYS whole UTC days, then dropped (PostgreSQL drops the day's partition), checked at most
// once an hour; the hour and day rollups are kept, so long ranges stay answerable.
import type { UsageRepository } from '../store/repository.js';
import type { FleetPer } from '../store/types.js';
import { MAX_REPORT_AGE_S } from './report-rules.js';
import { FLEET_PERS, windowStart } from './windows.js';

export const FLEET_RETENTION_S: Record<FleetPer, number> = { minute: 300, hour: 3 * 3600, day: 2 * 86_400, month: 63 * 86_400 };
const PRUNE_EVERY_S = 60;

export const DEFAULT_USAGE_RETENTION_DAYS = 400;
/**
 * Reports are accepted for minutes up to MAX_REPORT_AGE_S old: keeping less than that (plus the day being cut) would
 * drop a day that an accepted report still adds to.
 */
export const MIN_USAGE_RETENTION_DAYS = Math.ceil(MAX_REPORT_AGE_S / 86_400) + 1;
export const MAX_USAGE_RETENTION_DAYS = 36_500;
const DROP_EVERY_S = 3600;

export class FleetRetention {
  private lastPrune = 0;

  constructor(private readonly repo: UsageRepository) {}

  /** Prunes when the last prune is a minute old (or more). */
  async maybePrune(now: number): Promise<void> {
    if (now - this.lastPrune < PRUNE_EVERY_S) return;
    this.lastPrune = now;
    await this.repo.pruneFleet(Object.fromEntries(FLEET_PERS.map((per) => [per, now - FLEET_RETENTION_S[per]])) as Record<FleetPer, number>);
  }
}

/** Minute usage that started before this (unix s) is dropped: whole UTC days, the current one and `days` before it kept. */
export function usageCutoff(now: number, days: number): number {
  return windowStart('day', now) - days * 86_400;
}

export class UsageRetention {
  private lastDrop = Number.NEGATIVE_INFINITY;

  constructor(private readonly repo: UsageRepository, private readonly days: number = DEFAULT_USAGE_RETENTION_DAYS) {}

  /** Drops expired minute usage when the last check is an hour old (or more), and on the first call. */
  async maybeDrop(now: number): Promise<void> {
    if (now - this.lastDrop < DROP_EVERY_S) return;
    this.lastDrop = now;
    await this.repo.dropUsageBefore(usageCutoff(now, this.days));
  }
}
