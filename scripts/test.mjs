#!/usr/bin/env node
// `npm test`: every suite, in order, each run even if an earlier one failed, non-zero exit on any failure.
// Type-check and lint come first because they are fastest to fail; the build precedes the suites that load the wasm.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function findTests(dir, pattern, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, pattern, out);
    else if (pattern.test(name)) out.push(relative(root, path));
  }
  return out;
}

// TypeScript tests: tests/**/*.test.ts (tests/assembly holds as-pect specs instead). A filter on argv narrows them.
const only = process.argv.slice(2);
const tsTests = findTests(join(root, 'tests'), /\.test\.ts$/)
  .filter((f) => !f.startsWith('tests/assembly/'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
const asSpecs = findTests(join(root, 'tests', 'assembly'), /\.spec\.ts$/);

const stages = only.length > 0
  ? [['build', ['node', 'scripts/build.mjs']]]
  : [
      ['typecheck', ['npx', 'tsc', '--noEmit', '-p', 'tsconfig.json']],
      ['lint', ['npx', 'eslint', '.']],
      ['build', ['node', 'scripts/build.mjs']],
      ...(asSpecs.length > 0 ? [['as-pect', ['npx', 'asp', '--config', 'as-pect.config.js']]] : []),
    ];
if (tsTests.length > 0) {
  stages.push(['node:test', ['node', '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...tsTests]]);
}

const results = [];
for (const [name, [cmd, ...args]] of stages) {
  const started = Date.now();
  console.log(`\n=== ${name}: ${[cmd, ...args].join(' ').slice(0, 200)}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  const ok = r.status === 0;
  results.push({ name, ok, seconds: ((Date.now() - started) / 1000).toFixed(1) });
}
console.log('\n=== summary');
for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.seconds}s)`);
const failed = results.filter((r) => !r.ok).length;
process.exit(failed === 0 ? 0 : 1);
