// Envoy Gateway's EnvoyPatchPolicy (gateway.envoyproxy.io/v1alpha1) adding the Envoy cluster an EnvoyExtensionPolicy
// target's filter calls the control service through. Envoy Gateway makes clusters only for route backends and its
// own extensions' backendRefs (Wasm has none), so nothing else gives the gateway's Envoy a cluster for a Service no
// route sends to. A JSONPatch `add` with an empty path adds a whole resource (EG internal/xds/translator/jsonpatch.go).
// An EnvoyPatchPolicy attaches to one Gateway of its own namespace, so there is one per Gateway the target names.
// EG ignores these unless its configuration enables them (extensionApis.enableEnvoyPatchPolicy: docs/deploy.md).
import { ENVOYPATCHPOLICY_API_VERSION, GATEWAY_API_GROUP, envoyPatchPolicyName, type TargetRef } from '../../../contracts/resources.js';
import { MANAGED_LABELS } from '../wasmplugin.js';
import type { ControlEndpoint } from './control-cluster.js';
import { RenderError, type CompanionResource } from './resource.js';

export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
/** Names the object the companion belongs to (`<Kind>/<name>`), for whoever reads the cluster. */
export const COMPANION_OF_ANNOTATION = 'tollgate.dev/companion-of';
const MAX_NAME = 253;

export interface EnvoyPatchPolicy extends CompanionResource { kind: 'EnvoyPatchPolicy' }

/**
 * The Envoy Cluster (proto field names, as EG unmarshals it with protojson): the control Service by DNS name,
 * STRICT_DNS so a new Service IP is followed, plain HTTP/1.1 (the control service's listener; a mesh sidecar in
 * STRICT mTLS in front of it would refuse this client: docs/deploy.md).
 */
export function controlCluster(name: string, at: ControlEndpoint): Record<string, unknown> {
  return {
    name,
    type: 'STRICT_DNS',
    connect_timeout: '5s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: at.host, port_value: at.port } } } }] }],
    },
  };
}

/**
 * One EnvoyPatchPolicy per Gateway named in targetRefs (a name listed twice, e.g. with two sectionNames, counts once),
 * in order; RenderError when the control service's address is unknown. Routes and ListenerSets name no Gateway
 * tollgate could see, so a target naming only those gets none (docs/deploy.md says what to add by hand).
 */
export function renderControlClusterPatches(
  o: { name: string; namespace: string; targetRefs: readonly TargetRef[] | undefined }, cluster: string, at: ControlEndpoint | null,
): EnvoyPatchPolicy[] {
  const gateways = [...new Set((o.targetRefs ?? []).filter((r) => r.group === GATEWAY_API_GROUP && r.kind === 'Gateway').map((r) => r.name))];
  return gateways.map((gateway, i) => {
    const name = envoyPatchPolicyName(o.name, i);
    if (name.length > MAX_NAME) throw new RenderError(`target name ${o.name}: too long for its EnvoyPatchPolicy name ${name} (at most ${MAX_NAME})`);
    if (at === null) throw new RenderError('the control service\'s host and port cannot be told from TOLLGATE_USAGE_CLUSTER or TOLLGATE_USAGE_AUTHORITY');
    return {
      apiVersion: ENVOYPATCHPOLICY_API_VERSION,
      kind: 'EnvoyPatchPolicy',
      metadata: { name, namespace: o.namespace, labels: { ...MANAGED_LABELS }, annotations: { [COMPANION_OF_ANNOTATION]: `EnvoyExtensionPolicy/${o.name}` } },
      spec: {
        type: 'JSONPatch',
        targetRef: { group: GATEWAY_API_GROUP, kind: 'Gateway', name: gateway },
        jsonPatches: [{ type: CLUSTER_TYPE_URL, name: cluster, operation: { op: 'add', path: '', value: controlCluster(cluster, at) } }],
      },
    };
  });
}
