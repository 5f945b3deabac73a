#!/usr/bin/env node
// Optional second benchmark baseline: a pass-through filter on @solo-io/proxy-runtime 0.1.8, which needs
// AssemblyScript 0.14 (an npm alias). Kept out of package.json on purpose (an old compiler nobody should build the
// product with): this script installs both into a temporary directory, compiles, and writes
// build/baselines/solo-passthrough.wasm, which bench/filter.ts measures when present.
//   node tests/filter/baselines/build-solo-passthrough.mjs
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = `export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues } from "@solo-io/proxy-runtime";

class PassRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new Pass(context_id, this);
  }
}

class Pass extends Context {
  constructor(context_id: u32, root_context: PassRoot) {
    super(context_id, root_context);
  }
  onRequestHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    return FilterHeadersStatusValues.Continue;
  }
  onResponseHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32) => { return new PassRoot(context_id); }, "solo_passthrough");
`;

const root = new URL('../../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tollgate-solo-'));
try {
  writeFileSync(join(dir, 'package.json'), '{"name":"solo-baseline","private":true}\n');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '@solo-io/proxy-runtime@0.1.8', 'as014@npm:assemblyscript@0.14.13'], { cwd: dir, stdio: 'inherit' });
  mkdirSync(join(dir, 'assembly'));
  writeFileSync(join(dir, 'assembly', 'index.ts'), SOURCE);
  const out = join(dir, 'solo-passthrough.wasm');
  execFileSync(join(dir, 'node_modules', 'as014', 'bin', 'asc'), ['assembly/index.ts', '-b', out, '--use', 'abort=abort_proc_exit', '-O3'], { cwd: dir, stdio: 'inherit' });
  mkdirSync(join(root, 'build', 'baselines'), { recursive: true });
  copyFileSync(out, join(root, 'build', 'baselines', 'solo-passthrough.wasm'));
  console.log('wrote build/baselines/solo-passthrough.wasm');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
