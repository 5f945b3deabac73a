// Reads a replay --config file: a JSON pluginConfig, or a (rendered) Istio WasmPlugin YAML whose spec.pluginConfig is
// used, with its pluginName and failStrategy. Istio hands pluginConfig to Envoy as compact JSON.
import { parse } from 'yaml';
import type { FailStrategy } from './api.js';

export interface ReplayPlugin {
  pluginConfig: string;
  rootId?: string;
  failStrategy?: FailStrategy;
}

export function readReplayConfig(text: string): ReplayPlugin {
  const doc: unknown = parse(text);
  if (typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'WasmPlugin') {
    const spec = ((doc as { spec?: Record<string, unknown> }).spec ?? {});
    const failStrategy = spec.failStrategy === 'FAIL_OPEN' ? 'FAIL_OPEN' : spec.failStrategy === 'FAIL_RELOAD' ? 'FAIL_RELOAD' : 'FAIL_CLOSE';
    return {
      pluginConfig: JSON.stringify(spec.pluginConfig ?? {}),
      ...(typeof spec.pluginName === 'string' ? { rootId: spec.pluginName } : {}),
      failStrategy,
    };
  }
  return { pluginConfig: JSON.stringify(doc) };
}
