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

/** `<kind-lowercase>-<name>.yaml`: a GitOps file per object (WasmPlugin's name as before kinds existed). */
export function resourceFileName(kind: ResourceKind, name: string): string {
  return `${kind.toLowerCase()}-${name}.yaml`;
}
