// The Istio TrafficExtension (extensions.istio.io/v1alpha1, Istio ≥ 1.30): WasmPlugin's successor, with every Wasm
// field under spec.wasm. Sidecars attach by selector; Gateway API gateways and ambient waypoints by targetRefs.
import type { FilterConfig } from '../../../contracts/filter-config.js';
import { TRAFFICEXTENSION_API_VERSION } from '../../../contracts/resources.js';
import { VERSION_ANNOTATION } from '../../../contracts/wasmplugin.js';
import { MANAGED_LABELS } from '../wasmplugin.js';
import type { RenderedResource, ResourceOptions } from './resource.js';

export interface TrafficExtension extends RenderedResource {
  kind: 'TrafficExtension';
  spec: Record<string, unknown> & { wasm: Record<string, unknown> & { pluginConfig: FilterConfig } };
}

export function renderTrafficExtension(config: FilterConfig, version: string, o: ResourceOptions): TrafficExtension {
  return {
    apiVersion: TRAFFICEXTENSION_API_VERSION,
    kind: 'TrafficExtension',
    metadata: { name: o.name, namespace: o.namespace, labels: { ...MANAGED_LABELS }, annotations: { [VERSION_ANNOTATION]: version } },
    spec: {
      ...(o.selector !== undefined ? { selector: { matchLabels: o.selector } } : {}),
      // No namespace: the CRD refuses cross-namespace references; the object sits in the target's namespace.
      ...(o.targetRefs !== undefined ? { targetRefs: o.targetRefs.map(({ group, kind, name }) => ({ group, kind, name })) } : {}),
      // Its own enum (not WasmPlugin's UNSPECIFIED_PHASE); the same phase as the WasmPlugin, so the two sort alike.
      phase: 'AUTHN',
      // Sidecars: the workload's inbound API only, as the WasmPlugin. targetRefs: no match at all — a waypoint builds
      // its chain as inbound with port 0, so CLIENT or any port would never match there, and gateways have no
      // direction.
      ...(o.targetRefs === undefined ? { match: [{ mode: 'SERVER' }] } : {}),
      wasm: {
        url: o.url,
        ...(o.sha256 !== undefined ? { sha256: o.sha256 } : {}),
        // A pinned digest never changes, so there is nothing to re-pull.
        imagePullPolicy: 'IfNotPresent',
        ...(o.imagePullSecret !== undefined ? { imagePullSecret: o.imagePullSecret } : {}),
        pluginName: o.pluginName,
        failStrategy: o.failStrategy,
        type: 'HTTP',
        pluginConfig: config,
      },
    },
  };
}
