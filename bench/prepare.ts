// What `npm run bench` measures must exist first: on a fresh clone build/ is empty. The bench builds what is missing
// or older than its sources, with the same check and build step `npm start` uses for the filter (mesh/filter-build.ts).
import { join } from 'node:path';
import { buildSteps, filterNeedsBuild } from '../mesh/filter-build.js';

/** Each build step the bench relies on: the outputs it reads and the sources they are built from. */
export const BENCH_INPUTS: readonly { step: string; outputs: readonly string[]; sources: string }[] = [
  // bench/filter.ts: the shipped filter and its bench build (with a SHA-256 export).
  { step: 'filter', outputs: ['build/tollgate.wasm', 'build/tollgate.bench.wasm'], sources: 'assembly' },
  // bench/filter.ts: the SDK pass-through baseline the filter's cost is compared with.
  { step: 'fixtures', outputs: ['build/fixtures/sdk-passthrough.wasm'], sources: 'tests/fixtures/sdk-passthrough' },
];

/** The build steps whose outputs are missing or older than their sources, in build order. */
export function staleBenchSteps(root: string): string[] {
  return BENCH_INPUTS
    .filter(({ outputs, sources }) => outputs.some((o) => filterNeedsBuild(join(root, o), join(root, sources))))
    .map(({ step }) => step);
}

/** Builds what the bench needs and returns the steps it ran (none when everything is current). */
export async function prepareBench(
  root: string,
  build: (root: string, steps: readonly string[]) => Promise<void> = buildSteps,
  log: (message: string) => void = (m) => console.error(m),
): Promise<string[]> {
  const steps = staleBenchSteps(root);
  if (steps.length > 0) {
    log(`bench: building ${steps.join(', ')} (missing or older than its sources)…`);
    await build(root, steps);
  }
  return steps;
}
