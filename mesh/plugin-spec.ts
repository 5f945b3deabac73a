// The sidecar's view of a WasmPlugin: the plan read by the one WasmPlugin reader (contracts/wasmplugin.ts), turned
// into the host's plugin spec, and what moving from one plan to the next takes. Pure, so the sidecar's adapter stays
// thin and this is testable.
import { canonicalJson } from '../contracts/canonical-json.js';
import { readWasmPlugin, WasmPluginError, type PluginPlan } from '../contracts/wasmplugin.js';
import type { PluginSpec } from '../host/index.js';

export { readWasmPlugin, WasmPluginError, type PluginPlan };

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
