// Test fixtures for the host: build/fixtures/*.wasm.
// - tests/fixtures/wat/*.wat: small conformance modules, compiled with the wabt npm package.
// - tests/fixtures/sdk-passthrough/: a pass-through filter written with @gcoredev/proxy-wasm-sdk-as (third-party SDK
//   module for conformance tests, and the benchmark baseline).
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const out = 'build/fixtures';

async function buildWat() {
  const dir = 'tests/fixtures/wat';
  if (!existsSync(dir)) return 0;
  const wabt = await (await import('wabt')).default();
  let count = 0;
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.wat')).sort()) {
    const source = readFileSync(join(dir, name), 'utf8');
    const module = wabt.parseWat(name, source, { mutable_globals: true, sign_extension: true, bulk_memory: true });
    try {
      module.resolveNames();
      module.validate();
      const { buffer } = module.toBinary({ log: false, write_debug_names: true });
      writeFileSync(join(out, name.replace(/\.wat$/, '.wasm')), buffer);
      count++;
    } finally {
      module.destroy();
    }
  }
  return count;
}

async function buildSdkPassthrough() {
  const asc = (await import('assemblyscript/asc')).default;
  // The SDK's documented setup (abort routed to its proc_exit-based handler) in the fixture's own asconfig, so the
  // repo's filter asconfig is not picked up; it extends the WASI shim because the SDK's FastEdge helpers use `process`.
  const { error, stderr } = await asc.main([
    'tests/fixtures/sdk-passthrough/index.ts',
    '--config', 'tests/fixtures/sdk-passthrough/asconfig.json',
    '--outFile', join(out, 'sdk-passthrough.wasm'),
  ], {});
  if (error) throw new Error(`asc (sdk-passthrough) failed: ${error.message}\n${stderr.toString()}`);
  return readFileSync(join(out, 'sdk-passthrough.wasm')).length;
}

export async function build() {
  mkdirSync(out, { recursive: true });
  const wat = await buildWat();
  const sdkBytes = await buildSdkPassthrough();
  console.log(`fixtures: ${wat} WAT modules, sdk-passthrough.wasm ${sdkBytes} bytes in ${out}/`);
}
