// The control service bundled into one file for its container: dist/control.js (runs with plain `node`).
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * The OpenAPI schema validator reads its schemas from files beside its own module (`./schemas/v3.x/schema.json`,
 * resolved from import.meta.url), which in the bundle would be dist/schemas/…: nothing the image carries. Its loader
 * is given the schemas as JSON modules instead (bundled), so the bundle imports OpenAPI documents like the sources do.
 */
const inlineOpenApiSchemas = {
  name: 'inline-openapi-schemas',
  setup(build) {
    build.onLoad({ filter: /@seriousme[\\/]openapi-schema-validator[\\/]index\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const marker = 'function importJSON(file) {';
      if (!source.includes(marker)) throw new Error('openapi-schema-validator: importJSON not found (a new version?): the bundle could not validate documents');
      const versions = ['2.0', '3.0', '3.1', '3.2'].filter((v) => existsSync(new URL(`schemas/v${v}/schema.json`, `file://${args.path}`)));
      const imports = versions.map((v, i) => `import __tollgateSchema${i} from './schemas/v${v}/schema.json';`).join('\n');
      const table = `{ ${versions.map((v, i) => `'./schemas/v${v}/schema.json': __tollgateSchema${i}`).join(', ')} }`;
      return {
        contents: `${imports}\n${source.replace(marker, `${marker}\n\tconst bundled = ${table}[file];\n\tif (bundled !== undefined) return structuredClone(bundled);`)}`,
        loader: 'js',
        resolveDir: args.path.replace(/[\\/][^\\/]*$/, ''),
      };
    });
  },
};

/** esbuild's options for the bundle (tests bundle with them too, to a file of their own). */
export function bundleOptions(outfile = 'dist/control.js') {
  return {
    entryPoints: ['control/main.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Native addon: installed beside the bundle in the container (see control/Dockerfile). pg-native: pg's optional
    // libpq binding, required only if `pg.native` is used (we do not); left out, not resolved.
    external: ['better-sqlite3', 'pg-native'],
    banner: { js: "import { createRequire as __tollgateCreateRequire } from 'node:module'; const require = __tollgateCreateRequire(import.meta.url);" },
    plugins: [inlineOpenApiSchemas],
    logLevel: 'warning',
  };
}

export async function build() {
  if (!existsSync('control/main.ts')) return;
  const esbuild = await import('esbuild');
  await esbuild.build(bundleOptions());
  console.log(`control: dist/control.js ${readFileSync('dist/control.js').length} bytes`);
}
