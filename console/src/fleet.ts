// Pure: the fleet view's rows. Newer control services answer GET /v1/fleet (per proxy process: config version, key
// feed lag, state) and GET /v1/distribution's `convergence`; older ones only the distribution acks, from which a
// coarser picture (one row per proxy, its last acknowledged version) is derived.
import type { Convergence, DistributionView, FleetProxy, FleetView } from './types';

export interface FleetRow {
  node: string; target: string; state: string; configVersion: string | null; feedLag: number | null; keys: number | null;
  lastSeen: string | null; problems: string;
}

export function fleetRows(fleet: FleetView | undefined, dist: DistributionView | undefined): FleetRow[] {
  if (fleet !== undefined) {
    return fleet.items.map((p: FleetProxy) => ({
      node: p.node,
      target: p.target ?? '',
      state: p.state ?? (p.current === true ? 'current' : 'unknown'),
      configVersion: p.configVersion ?? null,
      feedLag: p.feedLag ?? null,
      keys: p.keys ?? null,
      lastSeen: p.lastSeen ?? null,
      problems: [
        (p.flushFailed ?? 0) > 0 ? `${p.flushFailed} failed flushes` : '',
        (p.feedFailed ?? 0) > 0 ? `${p.feedFailed} failed feed syncs` : '',
        (p.dropped ?? 0) > 0 ? `${p.dropped} usage entries dropped` : '',
      ].filter((s) => s !== '').join(', '),
    }));
  }
  if (dist === undefined) return [];
  return dist.acks.map((a) => ({
    node: a.proxy,
    target: a.target,
    state: a.status !== 'applied' ? a.status : a.version === dist.version ? 'current' : 'behind',
    configVersion: a.version,
    feedLag: null,
    keys: null,
    lastSeen: a.receivedAt,
    problems: [a.message ?? '', a.upstreamHealthy === false ? 'upstream unhealthy' : ''].filter((s) => s !== '').join(', '),
  }));
}

/** Per target: how many proxies run the current configuration. From the service when it says, else from the rows. */
export function convergenceRows(dist: DistributionView | undefined, rows: FleetRow[]): Convergence[] {
  if (dist?.convergence !== undefined) return dist.convergence;
  const byTarget = new Map<string, Convergence>();
  for (const r of rows) {
    const c = byTarget.get(r.target) ?? { target: r.target, version: dist?.version ?? null, proxies: 0, current: 0, behind: 0, stale: 0, oldestLaggard: null };
    c.proxies += 1;
    if (r.state === 'current') c.current += 1;
    else if (r.state === 'stale') c.stale += 1;
    else {
      c.behind += 1;
      if (c.oldestLaggard === null) c.oldestLaggard = r.node;
    }
    byTarget.set(r.target, c);
  }
  return [...byTarget.values()];
}
