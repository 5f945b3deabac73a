// Public format: the resource kinds a target's filter configuration can ship as, and where each kind may attach.
//   WasmPlugin (extensions.istio.io/v1alpha1): Istio sidecars and gateways; the default, and what every release before
//     resource kinds rendered (contracts/wasmplugin.ts keeps its shape and its reader).
//   TrafficExtension (extensions.istio.io/v1alpha1, Istio ≥ 1.30): sidecars (selector), Gateway API gateways and
//     ambient waypoints (targetRefs).
//   EnvoyExtensionPolicy (gateway.envoyproxy.io/v1alpha1): Envoy Gateway; targetRefs only.
// docs/deploy.md has a section per kind; schemas/*-crd.yaml are the CRDs the rendered objects validate against.
import { WASMPLUGIN_API_VERSION } from './wasmplugin.js';

export const RESOURCE_KINDS = ['WasmPlugin', 'TrafficExtension', 'EnvoyExtensionPolicy'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];
export const DEFAULT_RESOURCE_KIND: ResourceKind = 'WasmPlugin';

export const TRAFFICEXTENSION_API_VERSION = 'extensions.istio.io/v1alpha1';
export const ENVOYEXTENSIONPOLICY_API_VERSION = 'gateway.envoyproxy.io/v1alpha1';
export const API_VERSIONS: Record<ResourceKind, string> = {
  WasmPlugin: WASMPLUGIN_API_VERSION,
  TrafficExtension: TRAFFICEXTENSION_API_VERSION,
  EnvoyExtensionPolicy: ENVOYEXTENSIONPOLICY_API_VERSION,
};
/** The Kubernetes resource (plural) of each kind: the path segment server-side apply writes to. */
export const RESOURCE_PLURALS: Record<ResourceKind, string> = {
  WasmPlugin: 'wasmplugins',
  TrafficExtension: 'trafficextensions',
  EnvoyExtensionPolicy: 'envoyextensionpolicies',
};

/** A policy attachment reference (Gateway API LocalPolicyTargetReference; sectionName only where the kind has it). */
export interface TargetRef { group: string; kind: string; name: string; sectionName?: string }

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
/** Istio's waypoint GatewayClass: the only GatewayClass a TrafficExtension (from the root namespace) attaches to. */
export const WAYPOINT_GATEWAY_CLASS = 'istio-waypoint';

const ISTIO_REFS = [
  { group: GATEWAY_API_GROUP, kind: 'Gateway' },
  { group: GATEWAY_API_GROUP, kind: 'GatewayClass' },
  { group: '', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
] as const;

/**
 * What each kind's targetRefs may name. Istio: pkg/config/validation `allowedTargetRefs` (the same list for WasmPlugin
 * and TrafficExtension). Envoy Gateway: the CRD's CEL rules allow TCP/UDP/TLS routes too, but a Wasm HTTP filter does
 * nothing there, so tollgate offers the HTTP-carrying ones.
 */
export const ALLOWED_TARGET_REFS: Record<ResourceKind, readonly { group: string; kind: string }[]> = {
  WasmPlugin: ISTIO_REFS,
  TrafficExtension: ISTIO_REFS,
  EnvoyExtensionPolicy: [
    { group: GATEWAY_API_GROUP, kind: 'Gateway' },
    { group: GATEWAY_API_GROUP, kind: 'HTTPRoute' },
    { group: GATEWAY_API_GROUP, kind: 'GRPCRoute' },
    { group: GATEWAY_API_GROUP, kind: 'ListenerSet' },
  ],
};
/** Each kind's CRD caps targetRefs at 16 (Envoy Gateway's does not, but its wasm list is; one cap for all). */
export const MAX_TARGET_REFS = 16;
/** Kinds whose targetRefs carry sectionName (a listener or a route rule). */
export const SECTION_NAME_KINDS: readonly ResourceKind[] = ['EnvoyExtensionPolicy'];
/** Kinds with a workload `selector`. */
export const SELECTOR_KINDS: readonly ResourceKind[] = ['WasmPlugin', 'TrafficExtension'];
/** Kinds that cannot attach without targetRefs (Envoy Gateway's CRD: "either targetRef or targetRefs must be used"). */
export const TARGET_REFS_REQUIRED_KINDS: readonly ResourceKind[] = ['EnvoyExtensionPolicy'];

/**
 * Objects rendered next to a target's own object, applied and withdrawn with it. EnvoyPatchPolicy
 * (gateway.envoyproxy.io/v1alpha1): on Envoy Gateway, the Envoy cluster the filter reaches the control service
 * through (Envoy Gateway creates none for a Service that no route sends to). schemas/envoy-gateway-envoypatchpolicy-crd.yaml.
 */
export const COMPANION_KINDS = ['EnvoyPatchPolicy'] as const;
export type CompanionKind = (typeof COMPANION_KINDS)[number];
export const ENVOYPATCHPOLICY_API_VERSION = 'gateway.envoyproxy.io/v1alpha1';
export const COMPANION_PLURALS: Record<CompanionKind, string> = { EnvoyPatchPolicy: 'envoypatchpolicies' };

/**
 * The Envoy cluster an EnvoyExtensionPolicy target's filter reports usage to and pulls keys from: one per target
 * (`tollgate/<namespace>/<name>`), so two targets on one Gateway never add the same cluster twice (Envoy would refuse
 * the gateway's whole cluster update). Other kinds use TOLLGATE_USAGE_CLUSTER (Istio's outbound cluster).
 */
export function envoyGatewayControlCluster(namespace: string, name: string): string {
  return `tollgate/${namespace}/${name}`;
}

/**
 * The EnvoyPatchPolicy adding that cluster to the i-th Gateway the target names: `<name>-control-<i>`. The suffix
 * ends in digits only, so two targets' names never collide.
 */
export function envoyPatchPolicyName(targetName: string, index: number): string {
  return `${targetName}-control-${index}`;
}

/** `<kind-lowercase>-<name>.yaml`: a GitOps file per object (WasmPlugin's name as before kinds existed). */
export function resourceFileName(kind: ResourceKind | CompanionKind, name: string): string {
  return `${kind.toLowerCase()}-${name}.yaml`;
}

/**
 * The WasmPlugin equivalent of a rendered TrafficExtension or EnvoyExtensionPolicy (a WasmPlugin is returned as it
 * is), so the one WasmPlugin reader (contracts/wasmplugin.ts readWasmPlugin) reads any kind: what Envoy would run
 * (module url and digest, root id, failure policy, plugin configuration). TrafficExtension: the fields of spec.wasm,
 * as istiod maps them one to one. EnvoyExtensionPolicy: the first Wasm entry — an Image url gains `oci://`, an HTTP
 * url stays, rootID is the plugin name, failOpen true is FAIL_OPEN and false FAIL_CLOSE, config the configuration.
 * Anything else is returned unchanged (and refused by the reader).
 */
export function wasmPluginOf(object: unknown): unknown {
  if (object === null || typeof object !== 'object') return object;
  const o = object as { kind?: unknown; metadata?: unknown; spec?: Record<string, unknown> };
  const spec = o.spec ?? {};
  if (o.kind === 'TrafficExtension') {
    const { wasm, selector, targetRefs, phase, match } = spec as { wasm?: Record<string, unknown> } & Record<string, unknown>;
    return {
      apiVersion: WASMPLUGIN_API_VERSION, kind: 'WasmPlugin', metadata: o.metadata,
      spec: { ...(wasm ?? {}), ...defined({ selector, targetRefs, phase, match }) },
    };
  }
  if (o.kind === 'EnvoyExtensionPolicy') {
    const first = (Array.isArray(spec.wasm) ? spec.wasm[0] : undefined) as
      { rootID?: string; failOpen?: boolean; config?: unknown; code?: { type?: string; image?: { url?: string; sha256?: string }; http?: { url?: string; sha256?: string } } } | undefined;
    const source = first?.code?.type === 'HTTP' ? first.code.http : first?.code?.image;
    const url = source?.url === undefined ? undefined : first?.code?.type === 'HTTP' || source.url.includes('://') ? source.url : `oci://${source.url}`;
    return {
      apiVersion: WASMPLUGIN_API_VERSION, kind: 'WasmPlugin', metadata: o.metadata,
      spec: defined({
        url, sha256: source?.sha256, pluginName: first?.rootID,
        failStrategy: first === undefined ? undefined : first.failOpen === true ? 'FAIL_OPEN' : 'FAIL_CLOSE',
        pluginConfig: first?.config,
      }),
    };
  }
  return object;
}

function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}
