#!/usr/bin/env node
// `npm run build`: the optimized filter (build/tollgate.wasm, size and sha256 printed) and the control service
// bundle (dist/control.js). `node scripts/build.mjs filter` builds only the filter.
import { createHash } from 'node:crypto';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
const wanted = new Set(process.argv.slice(2));
const all = wanted.size === 0;

async function buildFilter() {
  const asc = (await import('assemblyscript/asc')).default;
  for (const target of ['release', 'debug']) {
    const { error, stderr } = await asc.main(['assembly/index.ts', '--target', target], {});
    if (error) {
      console.error(stderr.toString());
      throw new Error(`asc (${target}) failed: ${error.message}`);
    }
  }
  const wasm = readFileSync('build/tollgate.wasm');
  const sha = createHash('sha256').update(wasm).digest('hex');
  console.log(`filter: build/tollgate.wasm ${wasm.length} bytes (${(wasm.length / 1024).toFixed(1)} KiB) sha256:${sha}`);
}

async function buildControl() {
  if (!existsSync('control/main.ts')) return;
  const esbuild = await import('esbuild');
  mkdirSync(dirname('dist/control.js'), { recursive: true });
  await esbuild.build({
    entryPoints: ['control/main.ts'],
    outfile: 'dist/control.js',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Native addon: shipped beside the bundle in the container (see control/Dockerfile).
    external: ['better-sqlite3'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  console.log(`control: dist/control.js ${readFileSync('dist/control.js').length} bytes`);
}

try {
  if (all || wanted.has('filter')) await buildFilter();
  if (all || wanted.has('control')) await buildControl();
} catch (err) {
  console.error(String(err instanceof Error ? err.message : err));
  process.exit(1);
}
