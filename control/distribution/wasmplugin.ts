// The Istio WasmPlugin (extensions.istio.io/v1alpha1) carrying a compiled configuration as pluginConfig.
import { stringify } from 'yaml';
import type { FilterConfig } from '../../contracts/filter-config.js';
import { VERSION_ANNOTATION, WASMPLUGIN_API_VERSION, type WasmPlugin } from '../../contracts/wasmplugin.js';
import type { ResourceOptions } from './resources/resource.js';

export { VERSION_ANNOTATION, type WasmPlugin };

export type WasmPluginOptions = ResourceOptions;

/** What every target's WasmPlugin shares: the filter image and how Envoy treats its failures. */
export type PluginImage = Pick<WasmPluginOptions, 'pluginName' | 'url' | 'sha256' | 'failStrategy'>;

/** The labels every rendered object carries (whatever its kind). */
export const MANAGED_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/managed-by': 'tollgate', 'app.kubernetes.io/name': 'tollgate' };

export function renderWasmPlugin(config: FilterConfig, version: string, o: WasmPluginOptions): WasmPlugin {
  return {
    apiVersion: WASMPLUGIN_API_VERSION,
    kind: 'WasmPlugin',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: { ...MANAGED_LABELS },
      annotations: { [VERSION_ANNOTATION]: version },
    },
    spec: {
      url: o.url,
      ...(o.sha256 !== undefined ? { sha256: o.sha256 } : {}),
      // A pinned digest never changes, so there is nothing to re-pull.
      imagePullPolicy: 'IfNotPresent',
      ...(o.imagePullSecret !== undefined ? { imagePullSecret: o.imagePullSecret } : {}),
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
