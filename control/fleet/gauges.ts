// Fleet status as Prometheus gauges, computed at scrape time from the store. prom-client collects the gauges of a
// scrape concurrently: each fills itself from one shared view (FleetService.gaugeView). The names are a contract with
// the alert rules and the dashboard (manifests/observability/).
import { Gauge, type Registry } from 'prom-client';
import { NODE_STATES, type TargetGauges } from './state.js';
import type { FleetView } from './service.js';

export function registerFleetGauges(registry: Registry, view: () => Promise<FleetView>): void {
  const gauge = <T extends string>(name: string, help: string, labelNames: T[], set: (g: Gauge<T>, t: TargetGauges) => void): void => {
    new Gauge<T>({
      name, help, labelNames, registers: [registry],
      async collect(this: Gauge<T>): Promise<void> {
        const { gauges } = await view();
        this.reset();
        for (const t of gauges) set(this, t);
      },
    });
  };
  gauge('tollgate_fleet_proxies', 'proxy nodes by target and state (current, behind, stale)', ['target', 'state'], (g, t) => {
    for (const s of NODE_STATES) g.set({ target: t.target, state: s }, t.proxies[s]);
  });
  gauge('tollgate_fleet_converged_ratio', "live nodes on the target's current configuration version ÷ live nodes (1 when none is live)", ['target'],
    (g, t) => g.set({ target: t.target }, t.convergedRatio));
  gauge('tollgate_fleet_oldest_lag_seconds', 'how long the oldest laggard has been behind the current configuration version (0: none behind)', ['target'],
    (g, t) => g.set({ target: t.target }, t.oldestLagSeconds));
  gauge('tollgate_fleet_feed_lag_revisions', 'largest key-feed lag of a live node, in revisions', ['target'],
    (g, t) => g.set({ target: t.target }, t.feedLagRevisions));
  gauge('tollgate_fleet_proxy_failures', 'failure counters reported by live nodes, summed (kind: flush, feed, dropped; each since its VM started)', ['target', 'kind'], (g, t) => {
    g.set({ target: t.target, kind: 'flush' }, t.failures.flush);
    g.set({ target: t.target, kind: 'feed' }, t.failures.feed);
    g.set({ target: t.target, kind: 'dropped' }, t.failures.dropped);
  });
}
