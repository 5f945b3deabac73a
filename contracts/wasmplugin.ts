// Public format: the Istio WasmPlugin (extensions.istio.io/v1alpha1) that carries a filter configuration, and the one
// reader of it: what istiod and istio-agent make of it before Envoy runs the filter (pluginName → root id,
// `<namespace>.<name>` → plugin name, pluginConfig → compact sorted JSON bytes, failStrategy → failure policy,
// vmConfig.env → WASI environment). The local sidecar and `tollgate replay` both read WasmPlugins through it.
import { canonicalJson } from './canonical-json.js';
import type { FilterConfig } from './filter-config.js';

export const WASMPLUGIN_API_VERSION = 'extensions.istio.io/v1alpha1';
/** metadata.annotations key carrying the compiled configuration's version (its SHA-256). */
export const VERSION_ANNOTATION = 'tollgate.dev/config-version';
export const FAIL_STRATEGIES = ['FAIL_CLOSE', 'FAIL_OPEN', 'FAIL_RELOAD'] as const;
export type FailStrategy = (typeof FAIL_STRATEGIES)[number];

export interface WasmPlugin {
  apiVersion: typeof WASMPLUGIN_API_VERSION;
  kind: 'WasmPlugin';
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: Record<string, unknown> & { pluginConfig: FilterConfig };
}

/** Everything about the plugin Envoy would run except the module bytes, which come from `url`. */
export interface PluginPlan {
  name: string;
  rootId: string;
  vmId: string;
  url: string;
  sha256?: string;
  pluginConfig: string;
  failStrategy: FailStrategy;
  env: Record<string, string>;
}

export class WasmPluginError extends Error {
  override name = 'WasmPluginError';
}

/** The subset of the WasmPlugin spec that is honoured; anything it cannot honour is an error, never a guess. */
interface WasmPluginInput {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: {
    url?: string; sha256?: string; pluginName?: string; pluginConfig?: unknown; failStrategy?: string; type?: string;
    vmConfig?: { env?: Array<{ name?: string; value?: string; valueFrom?: string }> };
  };
}

export function readWasmPlugin(object: unknown): PluginPlan {
  if (object === null || typeof object !== 'object') throw new WasmPluginError('WasmPlugin is not an object');
  const plugin = object as WasmPluginInput;
  if (plugin.kind !== undefined && plugin.kind !== 'WasmPlugin') throw new WasmPluginError(`expected kind WasmPlugin, got ${plugin.kind}`);
  const spec = plugin.spec;
  if (spec === undefined || spec === null || typeof spec !== 'object') throw new WasmPluginError('WasmPlugin has no spec');
  if (typeof spec.url !== 'string' || spec.url === '') throw new WasmPluginError('spec.url is required');
  if (spec.type !== undefined && spec.type !== 'HTTP') throw new WasmPluginError(`spec.type ${spec.type} is not supported (HTTP only)`);
  if (spec.sha256 !== undefined && spec.sha256 !== '' && !/^[a-f0-9]{64}$/.test(spec.sha256)) {
    throw new WasmPluginError('spec.sha256 must be 64 lowercase hex characters');
  }
  // Istio's default; an unknown value is refused (the API server's schema would refuse it too).
  const failStrategy = (spec.failStrategy ?? 'FAIL_CLOSE') as FailStrategy;
  if (!FAIL_STRATEGIES.includes(failStrategy)) throw new WasmPluginError(`spec.failStrategy ${String(spec.failStrategy)} is not one of ${FAIL_STRATEGIES.join(', ')}`);
  const name = `${plugin.metadata?.namespace ?? 'default'}.${plugin.metadata?.name ?? 'wasmplugin'}`;
  // Istio: pluginName becomes the root id; empty means the default root context. It also names the VM here: one
  // plugin per sidecar, and a stable VM id keeps shared data (quota counters, reporter id) across configurations.
  const rootId = spec.pluginName ?? '';
  const env: Record<string, string> = {};
  for (const entry of spec.vmConfig?.env ?? []) {
    // valueFrom HOST reads the proxy's own environment in Istio; there is no separate proxy environment here.
    if (entry.name && (entry.valueFrom === undefined || entry.valueFrom === 'INLINE')) env[entry.name] = entry.value ?? '';
  }
  return {
    name,
    rootId,
    vmId: rootId === '' ? name : rootId,
    url: spec.url,
    ...(spec.sha256 ? { sha256: spec.sha256 } : {}),
    pluginConfig: spec.pluginConfig === undefined ? '' : canonicalJson(spec.pluginConfig),
    failStrategy,
    env,
  };
}
