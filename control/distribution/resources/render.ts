// One target's filter configuration as the object of its resource kind, and the objects that go with it (pure: same
// inputs, same objects).
import type { FilterConfig } from '../../../contracts/filter-config.js';
import type { ResourceKind } from '../../../contracts/resources.js';
import { renderWasmPlugin } from '../wasmplugin.js';
import type { ControlEndpoint } from './control-cluster.js';
import { renderEnvoyExtensionPolicy } from './envoyextensionpolicy.js';
import { renderControlClusterPatches } from './envoypatchpolicy.js';
import type { CompanionResource, RenderOne, RenderedResource, ResourceOptions } from './resource.js';
import { renderTrafficExtension } from './trafficextension.js';

const RENDERERS: Record<ResourceKind, RenderOne> = {
  WasmPlugin: renderWasmPlugin,
  TrafficExtension: renderTrafficExtension,
  EnvoyExtensionPolicy: renderEnvoyExtensionPolicy,
};

export function renderResource(kind: ResourceKind, config: FilterConfig, version: string, o: ResourceOptions): RenderedResource {
  return RENDERERS[kind](config, version, o);
}

/**
 * What must exist next to the target's object for its filter to reach the control service through `cluster`:
 * nothing under Istio (its outbound cluster), EnvoyPatchPolicies adding the cluster under Envoy Gateway.
 */
export function renderCompanions(kind: ResourceKind, o: ResourceOptions, cluster: string, at: ControlEndpoint | null): CompanionResource[] {
  return kind === 'EnvoyExtensionPolicy' ? renderControlClusterPatches(o, cluster, at) : [];
}
