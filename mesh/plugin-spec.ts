// Maps a rendered Istio WasmPlugin onto the plugin Envoy would run (what istiod + istio-agent do before ECDS):
// pluginName → root id, `<namespace>.<name>` → plugin name, pluginConfig → compact sorted JSON bytes, failStrategy
// → failure policy, vmConfig.env → WASI environment. Pure, so the sidecar's adapter stays thin and this is testable.
import type { FailStrategy, PluginSpec } from '../host/index.js';
import { canonicalJson } from './canonical-json.js';

/** The subset of extensions.istio.io/v1alpha1 WasmPlugin the local sidecar honours. */
export interface WasmPluginObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: {
    url?: string;
    sha256?: string;
    pluginName?: string;
    pluginConfig?: unknown;
    failStrategy?: string;
    phase?: string;
    vmConfig?: { env?: Array<{ name?: string; value?: string; valueFrom?: string }> };
    type?: string;
  };
}

/** Everything about the plugin except the module bytes, which the sidecar fetches from `url`. */
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

const FAIL_STRATEGIES: readonly FailStrategy[] = ['FAIL_CLOSE', 'FAIL_OPEN', 'FAIL_RELOAD'];

export function planFromWasmPlugin(object: unknown): PluginPlan {
  if (object === null || typeof object !== 'object') throw new WasmPluginError('WasmPlugin is not an object');
  const plugin = object as WasmPluginObject;
  if (plugin.kind !== undefined && plugin.kind !== 'WasmPlugin') throw new WasmPluginError(`expected kind WasmPlugin, got ${plugin.kind}`);
  const spec = plugin.spec;
  if (spec === undefined || spec === null || typeof spec !== 'object') throw new WasmPluginError('WasmPlugin has no spec');
  if (typeof spec.url !== 'string' || spec.url === '') throw new WasmPluginError('spec.url is required');
  if (spec.type !== undefined && spec.type !== 'HTTP') throw new WasmPluginError(`spec.type ${spec.type} is not supported (HTTP only)`);
  if (spec.sha256 !== undefined && spec.sha256 !== '' && !/^[a-f0-9]{64}$/.test(spec.sha256)) {
    throw new WasmPluginError('spec.sha256 must be 64 lowercase hex characters');
  }
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

export function pluginSpecFromPlan(plan: PluginPlan, wasm: Uint8Array): PluginSpec {
  return {
    name: plan.name,
    rootId: plan.rootId,
    vmId: plan.vmId,
    wasm,
    pluginConfig: plan.pluginConfig,
    failStrategy: plan.failStrategy,
    env: plan.env,
  };
}

/** What the sidecar must do to go from the running plan to the next one (Envoy: same VMs unless the module changes). */
export type PlanChange = 'load' | 'reconfigure' | 'unchanged' | 'replace';

export function planChange(current: PluginPlan | undefined, next: PluginPlan): PlanChange {
  if (current === undefined) return 'load';
  const sameVm = current.url === next.url && current.sha256 === next.sha256 && current.rootId === next.rootId
    && current.vmId === next.vmId && current.failStrategy === next.failStrategy
    && canonicalJson(current.env) === canonicalJson(next.env);
  if (!sameVm) return 'replace';
  return current.pluginConfig === next.pluginConfig ? 'unchanged' : 'reconfigure';
}
