// Reads a replay --config file: a JSON pluginConfig, or a (rendered) Istio WasmPlugin YAML whose spec.pluginConfig is
// used, with its pluginName and failStrategy. Istio hands pluginConfig (a protobuf Struct) to Envoy as compact JSON
// with object keys sorted; both inputs are passed on that way.
import { parse } from 'yaml';
import type { FailStrategy } from '../contract.js';

export interface ReplayPlugin {
  pluginConfig: string;
  rootId?: string;
  failStrategy?: FailStrategy;
}

/** Compact JSON with object keys sorted (code-unit order), arrays in order: how Istio prints a Struct. */
export function structJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(structJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${structJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function readReplayConfig(text: string): ReplayPlugin {
  const doc: unknown = parse(text);
  if (typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'WasmPlugin') {
    const spec = ((doc as { spec?: Record<string, unknown> }).spec ?? {});
    const failStrategy = spec.failStrategy === 'FAIL_OPEN' ? 'FAIL_OPEN' : spec.failStrategy === 'FAIL_RELOAD' ? 'FAIL_RELOAD' : 'FAIL_CLOSE';
    return {
      pluginConfig: structJson(spec.pluginConfig ?? {}),
      ...(typeof spec.pluginName === 'string' ? { rootId: spec.pluginName } : {}),
      failStrategy,
    };
  }
  return { pluginConfig: structJson(doc) };
}
