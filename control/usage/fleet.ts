// Fleet rules: which windows a subscription shares with the rest of the fleet, how much one reporter may add to a
// window, and what a usage reply tells a proxy (docs/usage-report.md, "Reply"). Pure, apart from the reads it is given.
import type { FleetAdd, FleetWindowKey, KeyFacts, UsageRepository } from '../store/repository.js';
import type { FleetPer, FleetWindow, Limit, ReporterScope, UsageEntry } from '../store/types.js';
import { fleetIncrements } from './aggregate.js';
import { FLEET_PERS, isFleetPer, windowStart } from './windows.js';

/**
 * A sync reply lists at most this many fleet windows: the filter reads at most 4 MiB of a reply (~90 bytes each).
 * Past it, the subscriptions with the largest counts come first; the rest are learned from later replies.
 */
export const MAX_SYNC_WINDOWS = 40_000;

export const subscriptionOf = (planId: string, consumerId: string): string => `${planId}/${consumerId}`;

/** The largest limit per fleet window size: no correct filter admits more units than that in one window. */
export function capsOf(limits: readonly Limit[]): Map<FleetPer, number> {
  const caps = new Map<FleetPer, number>();
  for (const l of limits) if (isFleetPer(l.per)) caps.set(l.per, Math.max(caps.get(l.per) ?? 0, l.requests));
  return caps;
}

/** Whether a plan belongs to a reporter's scope: it includes one of the target's APIs (any, when unrestricted). */
export function planInScope(planApiIds: readonly string[], scope: ReporterScope): boolean {
  return scope.apiIds === null || planApiIds.some((a) => scope.apiIds!.has(a));
}

/**
 * What `reporter` adds to its subscriptions' windows, each capped at the plan's limit for the window. With `now`,
 * windows that had ended by then are left out: replies only ever give current windows, so their counts would be
 * written and never read (a report's entries reach up to a week back).
 */
export function fleetAdds(entries: readonly UsageEntry[], facts: ReadonlyMap<string, KeyFacts>, reporter: string, now?: number): FleetAdd[] {
  const caps = new Map<string, Map<FleetPer, number>>();
  const capsFor = (f: KeyFacts): Map<FleetPer, number> => {
    let c = caps.get(f.keyId);
    if (c === undefined) caps.set(f.keyId, c = capsOf(f.limits));
    return c;
  };
  const current = now === undefined ? undefined : new Map(FLEET_PERS.map((per) => [per, windowStart(per, now)]));
  const adds: FleetAdd[] = [];
  for (const inc of fleetIncrements([...entries], (keyId) => [...capsFor(facts.get(keyId)!).keys()])) {
    if (current !== undefined && inc.windowStart < current.get(inc.per)!) continue;
    const f = facts.get(inc.keyId)!;
    adds.push({ planId: f.planId, consumerId: f.consumerId, per: inc.per, windowStart: inc.windowStart, reporter, count: inc.count, cap: capsFor(f).get(inc.per)! });
  }
  return adds;
}

/** Where a reply's per-window counts come from: the repository, or a replica's copy of them (fleet-cache.ts). */
export type FleetOthersSource = Pick<UsageRepository, 'fleetOthers'>;

/** The reply to an ordinary report: every limited window of each in-scope subscription of the report's keys. */
export async function fleetForKeys(repo: FleetOthersSource, facts: Iterable<KeyFacts>, reporter: string, now: number): Promise<FleetWindow[]> {
  const windows: FleetWindowKey[] = [];
  const seen = new Set<string>();
  for (const f of facts) {
    const sub = subscriptionOf(f.planId, f.consumerId);
    if (seen.has(sub)) continue;
    seen.add(sub);
    const caps = capsOf(f.limits);
    for (const per of FLEET_PERS) if (caps.has(per)) windows.push({ planId: f.planId, consumerId: f.consumerId, per, windowStart: windowStart(per, now) });
  }
  const others = await repo.fleetOthers(windows, reporter);
  return windows.map((w, i) => ({ subscription: subscriptionOf(w.planId, w.consumerId), per: w.per, windowStart: w.windowStart, others: others[i]! }));
}

/** The reply to a sync report: every subscription of the scope with counts in the current windows of its limits. */
export async function fleetForSync(repo: UsageRepository, scope: ReporterScope, reporter: string, now: number): Promise<FleetWindow[]> {
  const fleet: FleetWindow[] = [];
  for (const per of FLEET_PERS) {
    const start = windowStart(per, now);
    const rows = await repo.fleetCurrent(per, start, reporter, MAX_SYNC_WINDOWS);
    const plans = await repo.planFacts([...new Set(rows.map((r) => r.planId))]);
    for (const r of rows) {
      if (fleet.length >= MAX_SYNC_WINDOWS) return fleet;
      const plan = plans.get(r.planId);
      if (plan === undefined || !planInScope(plan.apiIds, scope) || !capsOf(plan.limits).has(per)) continue;
      fleet.push({ subscription: subscriptionOf(r.planId, r.consumerId), per, windowStart: start, others: r.others });
    }
  }
  return fleet;
}
