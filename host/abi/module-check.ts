// Envoy's load-time checks on a module: an ABI version export, and every import resolvable by module, name and type
// against the 0.2.1 host functions and WASI. Failures read like Envoy's ("missing import", "import type mismatch").
import { ABI_VERSION_EXPORTS, PROXY_SIGNATURES, WASI_MODULES, WASI_SIGNATURES, type Signature } from './signatures.js';
import { readImports, sameSignature } from './wasm-imports.js';
import { wasm, type WasmModule } from '../runtime/webassembly.js';

export type AbiVersion = '0_2_1' | '0_2_0' | '0_1_0';

function signatureText(s: Signature): string {
  return `(${s.params.join(', ')}) -> (${s.results.join(', ')})`;
}

/**
 * proxy-wasm-cpp-host registers continue_stream/close_stream only for ABI 0.2.x and get_log_level only for 0.2.1, so
 * an older module importing them does not link.
 */
const NEWER_THAN: Record<AbiVersion, readonly string[]> = {
  '0_2_1': [],
  '0_2_0': ['proxy_get_log_level'],
  '0_1_0': ['proxy_get_log_level', 'proxy_continue_stream', 'proxy_close_stream'],
};

function expected(module: string, name: string, abi: AbiVersion): Signature | undefined {
  if (module === 'env') return NEWER_THAN[abi].includes(name) ? undefined : PROXY_SIGNATURES[name];
  if ((WASI_MODULES as readonly string[]).includes(module)) return WASI_SIGNATURES[name];
  return undefined;
}

/** Returns the module's ABI version or throws an Error whose message says why Envoy would refuse it. */
export function checkModule(bytes: Uint8Array, module: WasmModule): AbiVersion {
  const exported = new Set(wasm.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name));
  const abiExport = ABI_VERSION_EXPORTS.find((name) => exported.has(name));
  if (abiExport === undefined) throw new Error('Missing or unknown Proxy-Wasm ABI version (no proxy_abi_version_* export)');
  const abi = abiExport.slice('proxy_abi_version_'.length) as AbiVersion;
  for (const imp of readImports(bytes)) {
    const want = expected(imp.module, imp.name, abi);
    if (want === undefined || imp.kind !== 'function' || imp.signature === undefined) {
      throw new Error(`missing import: ${imp.module}.${imp.name}`);
    }
    if (!sameSignature(imp.signature, want)) {
      throw new Error(`import type mismatch: ${imp.module}.${imp.name} is ${signatureText(imp.signature)}, host provides ${signatureText(want)}`);
    }
  }
  return abi;
}
