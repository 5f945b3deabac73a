import type { WasmPlugin } from '../wasmplugin.js';

/** Somewhere a rendered WasmPlugin goes. `describe` names it in GET /v1/distribution. */
export interface DistributionTarget {
  readonly describe: string;
  publish(plugin: WasmPlugin, version: string): Promise<void>;
}
