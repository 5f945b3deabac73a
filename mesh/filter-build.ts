// `tollgate start` rebuilds the filter only when needed: build/tollgate.wasm missing or older than any source under
// assembly/. The build itself is the project's build step (node scripts/build.mjs filter), run as a child process so
// its compiler output stays its own.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest modification time (ms) of any file under dir, or 0 when there is none. */
export function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function filterNeedsBuild(wasmPath: string, sourceDir: string): boolean {
  if (!existsSync(wasmPath)) return true;
  return statSync(wasmPath).mtimeMs < newestMtime(sourceDir);
}

/** Runs the named steps of the project's build (scripts/build-steps/, e.g. 'filter', 'fixtures') in a child process. */
export function buildSteps(root: string, steps: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'scripts/build.mjs'), ...steps], { cwd: root, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${steps.join(', ')} build failed (exit ${code})`))));
  });
}

export function buildFilter(root: string): Promise<void> {
  return buildSteps(root, ['filter']);
}
