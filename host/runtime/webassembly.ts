// Typed access to Node's WebAssembly global. The project's TypeScript libs (ES2023 + @types/node 20) do not declare
// WebAssembly, and a global declaration here would leak into every part's type-check, so the host declares just what
// it uses as module-local types.

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export type WasmImports = Record<string, Record<string, unknown>>;

interface WasmNamespace {
  Module: {
    new (bytes: Uint8Array): WasmModule;
    imports(module: WasmModule): Array<{ module: string; name: string; kind: string }>;
    exports(module: WasmModule): Array<{ name: string; kind: string }>;
  };
  Memory: abstract new (...args: never[]) => WasmMemory;
  RuntimeError: new (message?: string) => Error;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: WasmImports): Promise<WasmInstance>;
}

export const wasm = (globalThis as unknown as { WebAssembly: WasmNamespace }).WebAssembly;

export function isMemory(value: unknown): value is WasmMemory {
  return value instanceof wasm.Memory;
}
