// The control service bundled into one file for its container: dist/control.js (runs with plain `node`).
import { existsSync, readFileSync } from 'node:fs';

export async function build() {
  if (!existsSync('control/main.ts')) return;
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: ['control/main.ts'],
    outfile: 'dist/control.js',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Native addon: installed beside the bundle in the container (see control/Dockerfile). pg-native: pg's optional
    // libpq binding, required only if `pg.native` is used (we do not); left out, not resolved.
    external: ['better-sqlite3', 'pg-native'],
    banner: { js: "import { createRequire as __tollgateCreateRequire } from 'node:module'; const require = __tollgateCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  console.log(`control: dist/control.js ${readFileSync('dist/control.js').length} bytes`);
}
