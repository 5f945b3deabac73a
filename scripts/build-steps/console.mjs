// The web console (console/, docs/console.md): Vite builds console/src into console/dist, which the control service
// serves under /console/. `tollgate start` runs this step when console/dist is missing or older than console/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function sizeOf(dir) {
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    bytes += e.isDirectory() ? sizeOf(p) : statSync(p).size;
  }
  return bytes;
}

export async function build() {
  if (!existsSync('console/vite.config.ts')) return;
  const { build: viteBuild } = await import('vite');
  await viteBuild({ configFile: 'console/vite.config.ts', logLevel: 'warn' });
  console.log(`console: console/dist ${sizeOf('console/dist')} bytes`);
}
