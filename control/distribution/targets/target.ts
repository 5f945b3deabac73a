import type { CompanionResource, RenderedResource, SinkObject } from '../resources/resource.js';
import type { WasmPlugin } from '../wasmplugin.js';

/**
 * One target's rendering: `resource`, the object of the target's kind (WasmPlugin, TrafficExtension or
 * EnvoyExtensionPolicy), which shared sinks write; and `wasmPlugin`, the same configuration as a WasmPlugin, which the
 * local channel serves whatever the kind (its contract, contracts/distribution.ts, carries a WasmPlugin). For a
 * WasmPlugin target they are the same object. `companions`: objects shared sinks write before `resource` and withdraw
 * after it (the EnvoyPatchPolicies giving an Envoy Gateway target's filter its cluster to the control service).
 */
export interface Rendered { resource: RenderedResource; wasmPlugin: WasmPlugin; companions?: readonly CompanionResource[] }

/**
 * Somewhere rendered objects go (a sink; each target's object goes to every sink). `describe` names it in
 * GET /v1/distribution. `retract` withdraws the object of a target that was deleted, moved or changed kind.
 */
export interface DistributionTarget {
  readonly describe: string;
  /**
   * True for sinks every replica shares (the Kubernetes API, a GitOps directory): only the leading replica publishes
   * there. False for a replica's own sink (local long polls), which every replica keeps current.
   */
  readonly shared: boolean;
  publish(rendered: Rendered, version: string, targetId: string): Promise<void>;
  retract?(rendered: Rendered, targetId: string): Promise<void>;
  /** Deletes these objects (already gone is fine): companions a target no longer needs. */
  withdraw?(objects: readonly SinkObject[]): Promise<void>;
}
