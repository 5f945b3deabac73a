import type { WasmPlugin } from '../wasmplugin.js';

/**
 * Somewhere rendered WasmPlugins go (a sink; each target's WasmPlugin goes to every sink). `describe` names it in
 * GET /v1/distribution. `retract` withdraws the WasmPlugin of a target that was deleted or moved.
 */
export interface DistributionTarget {
  readonly describe: string;
  publish(plugin: WasmPlugin, version: string, targetId: string): Promise<void>;
  retract?(plugin: WasmPlugin, targetId: string): Promise<void>;
}
