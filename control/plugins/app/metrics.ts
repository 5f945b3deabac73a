// Prometheus metrics, one registry per app instance (tests run several apps in one process).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface ControlMetrics {
  registry: Registry;
  batches: Counter<'result'>;
  entries: Counter;
  dropped: Counter;
  refused: Counter;
  /** Allowed requests a shadow limit would have rejected, from stored (not duplicate) reports. */
  wouldReject: Counter;
  distributions: Counter<'target' | 'result'>;
  configKeys: Gauge;
  configBytes: Gauge;
  acks: Counter<'status'>;
}

export function createMetrics(): ControlMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_control_' });
  return {
    registry,
    batches: new Counter({ name: 'tollgate_usage_batches_total', help: 'usage report batches received, by result (stored, duplicate, refused, heartbeat: no usage, only proxy status)', labelNames: ['result'], registers: [registry] }),
    entries: new Counter({ name: 'tollgate_usage_entries_total', help: 'usage entries stored', registers: [registry] }),
    dropped: new Counter({ name: 'tollgate_usage_dropped_total', help: 'requests filters counted but could not report (their dropped field), since the store was created', registers: [registry] }),
    wouldReject: new Counter({ name: 'tollgate_usage_would_reject_total', help: 'allowed requests a shadow limit would have rejected (shadow mode), as reported', registers: [registry] }),
    refused: new Counter({ name: 'tollgate_usage_entries_refused_total', help: 'usage report entries refused: outside the reporting target\'s scope or the accepted time range', registers: [registry] }),
    distributions: new Counter({ name: 'tollgate_distributions_total', help: 'WasmPlugin publications, by target and result', labelNames: ['target', 'result'], registers: [registry] }),
    configKeys: new Gauge({ name: 'tollgate_config_keys', help: 'keys in the current filter configuration', registers: [registry] }),
    configBytes: new Gauge({ name: 'tollgate_config_bytes', help: 'bytes of the current filter configuration JSON', registers: [registry] }),
    acks: new Counter({ name: 'tollgate_distribution_acks_total', help: 'acks received from local proxies, by status', labelNames: ['status'], registers: [registry] }),
  };
}
