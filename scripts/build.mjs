#!/usr/bin/env node
// `npm run build`: every build step in scripts/build-steps/ (one file per part: the filter, the test fixtures,
// the control bundle). `node scripts/build.mjs filter` runs only the named steps.
import { readdirSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
const order = ['filter', 'fixtures', 'control'];
const available = readdirSync('scripts/build-steps').filter((f) => f.endsWith('.mjs')).map((f) => f.slice(0, -4));
const steps = [...order.filter((s) => available.includes(s)), ...available.filter((s) => !order.includes(s)).sort()];
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!steps.includes(name)) {
    console.error(`build: unknown step '${name}' (steps: ${steps.join(', ')})`);
    process.exit(2);
  }
}
try {
  for (const name of steps) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    const step = await import(`./build-steps/${name}.mjs`);
    await step.build();
  }
} catch (err) {
  console.error(`build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
