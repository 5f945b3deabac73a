// The console's build (docs/console.md): plain Vite with esbuild's automatic JSX runtime pointed at Preact, so no
// framework plugin is needed. Output: console/dist, served by the control service under /console/.
import { defineConfig } from 'vite';

const root = new URL('.', import.meta.url).pathname;

export default defineConfig({
  root,
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Everything as files under 'self': nothing inlined into the HTML (the CSP has no 'unsafe-inline'), and no
    // modulepreload polyfill (every supported browser has modulepreload; the polyfill would be an extra script).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  // `npx vite console`: the dev server proxies the API to a local control service (same origin, as in production).
  server: {
    proxy: Object.fromEntries(['/v1', '/openapi.json', '/healthz'].map((p) => [p, process.env.TOLLGATE_CONTROL_URL ?? 'http://127.0.0.1:7070'])),
  },
});
