// The filter: build/tollgate.wasm (optimized, what we ship), build/tollgate.debug.wasm, and
// build/tollgate.bench.wasm (the release build plus a SHA-256 export for bench/filter.ts; not shipped).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export async function build() {
  const asc = (await import('assemblyscript/asc')).default;
  for (const target of ['release', 'debug']) {
    const { error, stderr } = await asc.main(['assembly/index.ts', '--target', target], {});
    if (error) throw new Error(`asc (${target}) failed: ${error.message}\n${stderr.toString()}`);
  }
  {
    const { error, stderr } = await asc.main(['assembly/index.ts', 'assembly/bench.ts', '--target', 'release', '--outFile', 'build/tollgate.bench.wasm'], {});
    if (error) throw new Error(`asc (bench) failed: ${error.message}\n${stderr.toString()}`);
  }
  const wasm = readFileSync('build/tollgate.wasm');
  const sha = createHash('sha256').update(wasm).digest('hex');
  console.log(`filter: build/tollgate.wasm ${wasm.length} bytes (${(wasm.length / 1024).toFixed(1)} KiB) sha256:${sha}`);
}
