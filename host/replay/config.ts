// Reads a replay --config file: a JSON pluginConfig, or a rendered resource of any kind tollgate distributes (WasmPlugin,
// TrafficExtension, EnvoyExtensionPolicy: the last two are first mapped to their WasmPlugin equivalent by
// contracts/resources.ts wasmPluginOf) read by the one WasmPlugin reader (contracts/wasmplugin.ts: its pluginConfig, pluginName and failStrategy, refused as the sidecar refuses
// them). Istio hands pluginConfig (a protobuf Struct) to Envoy as compact JSON with object keys sorted; both inputs
// are passed on that way.
import { parse } from 'yaml';
import { canonicalJson } from '../../contracts/canonical-json.js';
import { readWasmPlugin } from '../../contracts/wasmplugin.js';
import { wasmPluginOf } from '../../contracts/resources.js';
import type { FailStrategy } from '../contract.js';

export interface ReplayPlugin {
  pluginConfig: string;
  rootId?: string;
  failStrategy?: FailStrategy;
}

export function readReplayConfig(text: string): ReplayPlugin {
  const doc: unknown = wasmPluginOf(parse(text));
  if (typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'WasmPlugin') {
    // A replay needs no module url: the module comes from --wasm.
    const withUrl = doc as { spec?: Record<string, unknown> };
    const plan = readWasmPlugin({ ...withUrl, spec: { url: 'file:///replay', ...(withUrl.spec ?? {}) } });
    return {
      pluginConfig: plan.pluginConfig === '' ? '{}' : plan.pluginConfig,
      ...(plan.rootId !== '' || typeof withUrl.spec?.pluginName === 'string' ? { rootId: plan.rootId } : {}),
      failStrategy: plan.failStrategy,
    };
  }
  return { pluginConfig: canonicalJson(doc) };
}
