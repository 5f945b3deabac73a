// One target's filter configuration as the object of its resource kind (pure: same inputs, same object).
import type { FilterConfig } from '../../../contracts/filter-config.js';
import type { ResourceKind } from '../../../contracts/resources.js';
import { renderWasmPlugin } from '../wasmplugin.js';
import { renderEnvoyExtensionPolicy } from './envoyextensionpolicy.js';
import type { RenderOne, RenderedResource, ResourceOptions } from './resource.js';
import { renderTrafficExtension } from './trafficextension.js';

const RENDERERS: Record<ResourceKind, RenderOne> = {
  WasmPlugin: renderWasmPlugin,
  TrafficExtension: renderTrafficExtension,
  EnvoyExtensionPolicy: renderEnvoyExtensionPolicy,
};

export function renderResource(kind: ResourceKind, config: FilterConfig, version: string, o: ResourceOptions): RenderedResource {
  return RENDERERS[kind](config, version, o);
}
