// The Istio WasmPlugin (extensions.istio.io/v1alpha1) carrying a compiled configuration as pluginConfig.
import { stringify } from 'yaml';
import type { FilterConfig } from '../compiler/filter-config.js';
import type { FailStrategy, TargetRef } from '../settings.js';

export interface WasmPluginOptions {
  name: string;
  namespace: string;
  pluginName: string;
  url: string;
  sha256: string | undefined;
  failStrategy: FailStrategy;
  selector: Record<string, string> | undefined;
  targetRefs: TargetRef[] | undefined;
}

/** What every target's WasmPlugin shares: the filter image and how Envoy treats its failures. */
export type PluginImage = Pick<WasmPluginOptions, 'pluginName' | 'url' | 'sha256' | 'failStrategy'>;

export interface WasmPlugin {
  apiVersion: 'extensions.istio.io/v1alpha1';
  kind: 'WasmPlugin';
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: Record<string, unknown> & { pluginConfig: FilterConfig };
}

export const VERSION_ANNOTATION = 'tollgate.dev/config-version';

export function renderWasmPlugin(config: FilterConfig, version: string, o: WasmPluginOptions): WasmPlugin {
  return {
    apiVersion: 'extensions.istio.io/v1alpha1',
    kind: 'WasmPlugin',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'tollgate', 'app.kubernetes.io/name': 'tollgate' },
      annotations: { [VERSION_ANNOTATION]: version },
    },
    spec: {
      url: o.url,
      ...(o.sha256 !== undefined ? { sha256: o.sha256 } : {}),
      // A pinned digest never changes, so there is nothing to re-pull.
      imagePullPolicy: 'IfNotPresent',
      pluginName: o.pluginName,
      phase: 'AUTHN',
      failStrategy: o.failStrategy,
      ...(o.selector !== undefined ? { selector: { matchLabels: o.selector } } : {}),
      ...(o.targetRefs !== undefined ? { targetRefs: o.targetRefs } : {}),
      // Bound to sidecars (selector or whole namespace), the filter must guard the workload's inbound API only, not
      // its outbound calls to other services. Gateways (targetRefs) have no such direction, so no match there.
      ...(o.targetRefs === undefined ? { match: [{ mode: 'SERVER' }] } : {}),
      pluginConfig: config,
    },
  };
}

export function wasmPluginYaml(plugin: WasmPlugin): string {
  // Keys stay as rendered; lineWidth 0 keeps long digests on one line.
  return stringify(plugin, { lineWidth: 0 });
}
