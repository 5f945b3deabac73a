import type { WasmPlugin } from '../wasmplugin.js';

/**
 * Somewhere rendered WasmPlugins go (a sink; each target's WasmPlugin goes to every sink). `describe` names it in
 * GET /v1/distribution. `retract` withdraws the WasmPlugin of a target that was deleted or moved.
 */
export interface DistributionTarget {
  readonly describe: string;
  /**
   * True for sinks every replica shares (the Kubernetes API, a GitOps directory): only the leading replica publishes
   * there. False for a replica's own sink (local long polls), which every replica keeps current.
   */
  readonly shared: boolean;
  publish(plugin: WasmPlugin, version: string, targetId: string): Promise<void>;
  retract?(plugin: WasmPlugin, targetId: string): Promise<void>;
}
