// Fleet status rules (docs/control.md "Fleet status"), pure: stored rows (one per VM) + what each target should run →
// one item per (target, node) with its VMs, each target's convergence, and the gauges' numbers. Times in unix ms.
import type { ProxyRow } from './repository.js';

export type NodeState = 'current' | 'behind' | 'stale';
export const NODE_STATES: readonly NodeState[] = ['current', 'behind', 'stale'];
/** The key set a node holds against the feed's head: caught up, behind by `feedLag` revisions, on another revision history (it will take a fresh snapshot), or no feed reported. */
export type FeedSync = 'synced' | 'behind' | 'resnapshot' | 'none';

/** What a target's proxies should run: its current configVersion, and the key feed's head for its scope. */
export interface TargetHead {
  version: string | null;
  /** When this version became current (first compiled by this replica); null: unknown. */
  since: number | null;
  feedEpoch: string; feedHead: number;
}

/** One VM of a node (vm '': an Envoy process whose filter predates `vm`). */
export interface VmItem {
  reporter: string; vm: string; configVersion: string; current: boolean; lastSeen: number;
  /** Not heard from within staleAfter: not counted in the node's state, workers or counters. */
  stale: boolean;
  flushFailed: number; feedFailed: number; dropped: number;
}

export interface FleetItem {
  node: string; target: string;
  /** VMs of the node (across its Envoy processes) seen within staleAfter (0 when stale). */
  workers: number;
  /** The node's configuration version: a laggard VM's when its VMs disagree. */
  configVersion: string; current: boolean; versionSince: number;
  feedEpoch: string | null; feedRevision: number | null; feedLag: number; feedSync: FeedSync; keys: number | null;
  lastSeen: number; state: NodeState;
  flushFailed: number; feedFailed: number; dropped: number;
  /** Every VM row of the node, in (reporter, vm) order. */
  vms: VmItem[];
}

export interface Laggard { node: string; configVersion: string; lastSeen: number; behindSeconds: number }

export interface Convergence {
  target: string; version: string | null; proxies: number; current: number; behind: number; stale: number;
  oldestLaggard: Laggard | null;
}

const isLive = (r: ProxyRow, now: number, staleAfterMs: number): boolean => now - r.lastSeen <= staleAfterMs;
const byKey = (a: ProxyRow, b: ProxyRow): number => (a.reporter < b.reporter ? -1 : a.reporter > b.reporter ? 1 : a.vm < b.vm ? -1 : a.vm > b.vm ? 1 : 0);

/** One item per (target, node), in target then node order. */
export function fleetItems(rows: readonly ProxyRow[], heads: ReadonlyMap<string, TargetHead>, now: number, staleAfterMs: number): FleetItem[] {
  const groups = new Map<string, ProxyRow[]>();
  for (const r of rows) {
    const k = `${r.targetId}\u0000${r.node}`;
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [r]);
    else g.push(r);
  }
  const items: FleetItem[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const head = heads.get(first.targetId);
    const want = head?.version ?? null;
    const live = group.filter((r) => isLive(r, now, staleAfterMs));
    const counted = live.length > 0 ? live : group;
    const behind = live.filter((r) => r.configVersion !== want).sort((a, b) => a.versionSince - b.versionSince);
    const newest = [...counted].sort((a, b) => b.lastSeen - a.lastSeen)[0]!;
    // A node is as far along as its slowest VM: show the laggard's version when there is one.
    const shown = behind[0] ?? newest;
    const state: NodeState = live.length === 0 ? 'stale' : behind.length > 0 ? 'behind' : 'current';
    const withFeed = counted.filter((r) => r.feedRevision !== null && r.feedEpoch !== null).sort((a, b) => a.feedRevision! - b.feedRevision!);
    const feed = withFeed[0];
    let feedLag = 0;
    let feedSync: FeedSync = 'none';
    if (feed !== undefined && head !== undefined) {
      if (feed.feedEpoch !== head.feedEpoch) feedSync = 'resnapshot';
      else {
        feedLag = Math.max(0, head.feedHead - feed.feedRevision!);
        feedSync = feedLag > 0 ? 'behind' : 'synced';
      }
    }
    const sum = (f: (r: ProxyRow) => number): number => counted.reduce((a, r) => a + f(r), 0);
    items.push({
      node: first.node, target: first.targetId, workers: live.length,
      configVersion: shown.configVersion, current: shown.configVersion === want && want !== null, versionSince: shown.versionSince,
      feedEpoch: feed?.feedEpoch ?? null, feedRevision: feed?.feedRevision ?? null, feedLag, feedSync,
      keys: feed?.keys ?? null,
      lastSeen: Math.max(...group.map((r) => r.lastSeen)), state,
      flushFailed: sum((r) => r.flushFailed), feedFailed: sum((r) => r.feedFailed), dropped: sum((r) => r.dropped),
      vms: [...group].sort(byKey).map((r) => ({
        reporter: r.reporter, vm: r.vm, configVersion: r.configVersion, current: want !== null && r.configVersion === want,
        lastSeen: r.lastSeen, stale: !isLive(r, now, staleAfterMs), flushFailed: r.flushFailed, feedFailed: r.feedFailed, dropped: r.dropped,
      })),
    });
  }
  return items.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/**
 * Per target (every target with a head, and any with items): how many nodes run the current version. The oldest
 * laggard is the behind node that has run its version the longest; it has been behind since the current version
 * became current (the earliest a proxy reported it, else when it was compiled).
 */
export function convergence(items: readonly FleetItem[], heads: ReadonlyMap<string, TargetHead>, now: number): Convergence[] {
  const targets = new Set<string>([...heads.keys(), ...items.map((i) => i.target)]);
  return [...targets].sort().map((target): Convergence => {
    const mine = items.filter((i) => i.target === target);
    const head = heads.get(target);
    const version = head?.version ?? null;
    const count = (s: NodeState): number => mine.filter((i) => i.state === s).length;
    const onCurrent = mine.filter((i) => i.current).map((i) => i.versionSince);
    const currentSince = Math.min(head?.since ?? now, ...onCurrent);
    const laggard = mine.filter((i) => i.state === 'behind').sort((a, b) => a.versionSince - b.versionSince || (a.node < b.node ? -1 : 1))[0];
    return {
      target, version, proxies: mine.length, current: count('current'), behind: count('behind'), stale: count('stale'),
      oldestLaggard: laggard === undefined ? null : {
        node: laggard.node, configVersion: laggard.configVersion, lastSeen: laggard.lastSeen,
        behindSeconds: Math.max(0, Math.floor((now - currentSince) / 1000)),
      },
    };
  });
}

export interface TargetGauges {
  target: string;
  proxies: Record<NodeState, number>;
  /** current ÷ live nodes (1 when none is live: nothing to converge). */
  convergedRatio: number;
  oldestLagSeconds: number;
  /** The largest feed lag of a live node, in revisions. */
  feedLagRevisions: number;
  /** Sums over live nodes. */
  failures: { flush: number; feed: number; dropped: number };
}

export function fleetGauges(items: readonly FleetItem[], conv: readonly Convergence[]): TargetGauges[] {
  return conv.map((c) => {
    const live = items.filter((i) => i.target === c.target && i.state !== 'stale');
    const liveCount = c.current + c.behind;
    return {
      target: c.target,
      proxies: { current: c.current, behind: c.behind, stale: c.stale },
      convergedRatio: liveCount === 0 ? 1 : c.current / liveCount,
      oldestLagSeconds: c.oldestLaggard?.behindSeconds ?? 0,
      feedLagRevisions: live.reduce((m, i) => Math.max(m, i.feedLag), 0),
      failures: {
        flush: live.reduce((a, i) => a + i.flushFailed, 0),
        feed: live.reduce((a, i) => a + i.feedFailed, 0),
        dropped: live.reduce((a, i) => a + i.dropped, 0),
      },
    };
  });
}
