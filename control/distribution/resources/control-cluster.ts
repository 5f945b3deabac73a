// Which Envoy cluster a target's filter reaches the control service through (usage reports and the key feed), and
// where that service is. Pure. Istio builds an outbound cluster per Service on sidecars and gateways (and on
// waypoints for the services its mesh configuration names: docs/deploy.md), so those kinds keep
// TOLLGATE_USAGE_CLUSTER; Envoy Gateway builds none, so each EnvoyExtensionPolicy target gets a cluster of its own,
// added by the EnvoyPatchPolicies rendered with it (envoypatchpolicy.ts).
import { envoyGatewayControlCluster, type ResourceKind } from '../../../contracts/resources.js';

export interface ControlEndpoint { host: string; port: number }

/** The control service's default port (TOLLGATE_CONTROL_PORT's default). */
export const DEFAULT_CONTROL_PORT = 7070;

/** The cluster name compiled into this target's filter configuration (`usage.cluster`). */
export function usageClusterFor(kind: ResourceKind, target: { namespace: string; name: string }, defaultCluster: string): string {
  return kind === 'EnvoyExtensionPolicy' ? envoyGatewayControlCluster(target.namespace, target.name) : defaultCluster;
}

/**
 * Where the control service listens, from the usage settings: Istio's outbound cluster name
 * (`outbound|<port>|<subset>|<host>`, the default) names the Service's host and port; otherwise the authority
 * (`host[:port]`, port 7070 when absent). Null when neither names a host.
 */
export function controlEndpoint(usage: { cluster: string; authority: string }): ControlEndpoint | null {
  const istio = /^outbound\|(\d{1,5})\|[^|]*\|([^|]+)$/.exec(usage.cluster);
  if (istio !== null) return endpoint(istio[2]!, Number(istio[1]));
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(usage.authority.trim());
  if (m === null) return null;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return endpoint(host, m[2] === undefined ? DEFAULT_CONTROL_PORT : Number(m[2]));
}

function endpoint(host: string, port: number): ControlEndpoint | null {
  return host.length > 0 && port >= 1 && port <= 65535 ? { host, port } : null;
}
