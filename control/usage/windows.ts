// Fixed windows aligned to UTC calendar boundaries, the same ones the filter enforces (docs/filter-config.md).
import { FLEET_PERIODS, type FleetPer, type Per } from '../../contracts/filter-config.js';

const SECONDS: Record<Exclude<Per, 'month'>, number> = { second: 1, minute: 60, hour: 3600, day: 86_400 };

/** Start (unix seconds) of the window of size `per` containing `t`. */
export function windowStart(per: Per, t: number): number {
  if (per === 'month') {
    const d = new Date(t * 1000);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
  }
  const size = SECONDS[per];
  return Math.floor(t / size) * size;
}

/** Window sizes whose counts are shared across the fleet: one flush interval is far below them. */
export const FLEET_PERS: readonly FleetPer[] = FLEET_PERIODS;
export type { FleetPer };

export function isFleetPer(per: Per): per is FleetPer {
  return per !== 'second';
}
