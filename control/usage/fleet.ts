// Fleet rules: which windows a subscription shares with the rest of the fleet, how much one reporter may add to a
// window, and what a usage reply tells a proxy (docs/usage-report.md, "Reply"). Pure, apart from the reads it is given.
import type { FleetAdd, FleetWindowKey, KeyFacts, OperationLimitFacts, UsageRepository } from '../store/repository.js';
import type { FleetPer, FleetWindow, Limit, ReporterScope, UsageEntry } from '../store/types.js';
import { unitsOf } from './aggregate.js';
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

/** A limit's fleet scope: '' (the whole subscription), `<apiId>` or `<apiId>/<operationId>` (contracts/usage-report.ts). */
export function scopeOf(l: { apiId?: string; operationId?: string }): string {
  if (l.apiId === undefined) return '';
  return l.operationId === undefined ? l.apiId : `${l.apiId}/${l.operationId}`;
}

/**
 * The caps of every scope a plan's limits name — its own limits, and the default limits of operations of its APIs
 * (scoped to their operation) — per fleet window size: the largest limit of that scope and size. Unscoped first.
 */
export function scopedCapsOf(limits: readonly Limit[], operationLimits: readonly OperationLimitFacts[] = []): Map<string, Map<FleetPer, number>> {
  const out = new Map<string, Map<FleetPer, number>>([['', capsOf(limits.filter((l) => l.apiId === undefined))]]);
  const add = (scope: string, l: { requests: number; per: Limit['per'] }): void => {
    if (!isFleetPer(l.per)) return;
    let caps = out.get(scope);
    if (caps === undefined) out.set(scope, caps = new Map());
    caps.set(l.per, Math.max(caps.get(l.per) ?? 0, l.requests));
  };
  for (const l of limits) if (l.apiId !== undefined) add(scopeOf(l), l);
  for (const o of operationLimits) for (const l of o.limits) add(`${o.apiId}/${o.operationId}`, l);
  for (const [scope, caps] of out) if (caps.size === 0 && scope !== '') out.delete(scope);
  return out;
}

const UNSCOPED: readonly string[] = [''];

/** The scopes an entry counts in: the subscription, its API, and its operation when it names one. */
function entryScopes(e: UsageEntry): readonly string[] {
  if (e.apiId === '') return [''];
  return e.operationId === undefined ? ['', e.apiId] : ['', e.apiId, `${e.apiId}/${e.operationId}`];
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
  const caps = new Map<string, Map<string, Map<FleetPer, number>>>();
  const capsFor = (f: KeyFacts): Map<string, Map<FleetPer, number>> => {
    let c = caps.get(f.keyId);
    if (c === undefined) caps.set(f.keyId, c = scopedCapsOf(f.limits, f.operationLimits));
    return c;
  };
  const current = now === undefined ? undefined : new Map(FLEET_PERS.map((per) => [per, windowStart(per, now)]));
  // Units of allowed requests per key, scope and window (rejected requests never consumed quota in the filter; an
  // entry that spent 0 units adds nothing): each entry counts in the subscription's windows and in those of its API
  // and operation that a limit names.
  const byKey = new Map<string, FleetAdd>();
  for (const e of entries) {
    if (e.outcome !== 'allowed' || e.keyId === '') continue;
    const units = unitsOf(e);
    if (units === 0) continue;
    const f = facts.get(e.keyId)!;
    const scoped = capsFor(f);
    // A plan without scoped limits (the common case) skips the scope list: the same work per entry as before.
    for (const scope of scoped.size === 1 ? UNSCOPED : entryScopes(e)) {
      const perCaps = scoped.get(scope);
      if (perCaps === undefined) continue;
      for (const [per, cap] of perCaps) {
        const start = windowStart(per, e.minute);
        if (current !== undefined && start < current.get(per)!) continue;
        const id = `${e.keyId}\u0000${scope}\u0000${per}\u0000${start}`;
        const add = byKey.get(id);
        if (add !== undefined) add.count += units;
        else byKey.set(id, { planId: f.planId, consumerId: f.consumerId, per, windowStart: start, reporter, count: units, cap, ...(scope === '' ? {} : { scope }) });
      }
    }
  }
  return [...byKey.values()];
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
    const scoped = scopedCapsOf(f.limits, f.operationLimits);
    // Unscoped windows first, as before; then each scope a limit names, in scope order.
    const scopes = [...scoped.keys()].sort();
    for (const scope of scopes) {
      const caps = scoped.get(scope)!;
      for (const per of FLEET_PERS) {
        if (!caps.has(per)) continue;
        windows.push({ planId: f.planId, consumerId: f.consumerId, per, windowStart: windowStart(per, now), ...(scope === '' ? {} : { scope }) });
      }
    }
  }
  const others = await repo.fleetOthers(windows, reporter);
  return windows.map((w, i) => ({
    subscription: subscriptionOf(w.planId, w.consumerId), per: w.per, windowStart: w.windowStart, others: others[i]!,
    ...(w.scope === undefined ? {} : { scope: w.scope }),
  }));
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
      // Only the windows the plan still limits (a limit removed or re-scoped since leaves rows until they age out).
      if (plan === undefined || !planInScope(plan.apiIds, scope) || scopedCapsOf(plan.limits, plan.operationLimits).get(r.scope)?.has(per) !== true) continue;
      fleet.push({ subscription: subscriptionOf(r.planId, r.consumerId), per, windowStart: start, others: r.others, ...(r.scope === '' ? {} : { scope: r.scope }) });
    }
  }
  return fleet;
}
