// How long fleet counts are kept: a window's counts are only asked for while it is current, so each is kept for the
// window's length plus slack, and pruning runs at most once a minute.
import type { UsageRepository } from '../store/repository.js';
import type { FleetPer } from '../store/types.js';
import { FLEET_PERS } from './windows.js';

export const FLEET_RETENTION_S: Record<FleetPer, number> = { minute: 300, hour: 3 * 3600, day: 2 * 86_400, month: 63 * 86_400 };
const PRUNE_EVERY_S = 60;

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
