#!/usr/bin/env node
// `npm test`: every suite, in order, each run even if an earlier one failed, non-zero exit on any failure.
// Type-check and lint come first because they are fastest to fail; the build precedes the suites that load the wasm.
// The control tests run twice: on SQLite with everything else, then on PostgreSQL (TOLLGATE_TEST_STORE=postgres, a
// server at TOLLGATE_TEST_PG_URL, default the local one); without a server that stage is skipped and says why, unless
// TOLLGATE_TEST_PG_REQUIRED=1 (.ci/run sets it), which makes it a failure.
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
const controlTests = tsTests.filter((f) => f.startsWith('tests/control/'));
// PostgreSQL-only suites run in the PostgreSQL stage only.
const isPostgresOnly = (f) => /^tests\/control\/postgres[^/]*\.test\.ts$/.test(f);
const TEST_PG_URL = process.env.TOLLGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Why the PostgreSQL stage cannot run, or undefined when the test server answers. */
async function postgresUnavailable() {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return `no PostgreSQL server at ${new URL(TEST_PG_URL).host} (${err.message}); install one with 'apt-get install postgresql' (Debian) or set TOLLGATE_TEST_PG_URL`;
  } finally {
    await client.end().catch(() => {});
  }
}

const stages = only.length > 0
  ? [['build', ['node', 'scripts/build.mjs']]]
  : [
      ['typecheck', ['npx', 'tsc', '--noEmit', '-p', 'tsconfig.json']],
      // The web console: browser code (DOM types, Preact JSX) with its own config (docs/console.md).
      ...(existsSync(join(root, 'console', 'tsconfig.json')) ? [['typecheck (console)', ['npx', 'tsc', '--noEmit', '-p', 'console/tsconfig.json']]] : []),
      ['lint', ['npx', 'eslint', '.']],
      ['build', ['node', 'scripts/build.mjs']],
      ...(asSpecs.length > 0 ? [['as-pect', ['npx', 'asp', '--config', 'as-pect.config.js']]] : []),
    ];
const nodeTest = (files) => ['node', '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files];
const firstRun = tsTests.filter((f) => !isPostgresOnly(f));
if (firstRun.length > 0) stages.push(['node:test', nodeTest(firstRun)]);
if (controlTests.length > 0) {
  stages.push(['node:test (control on postgres)', nodeTest(controlTests), { env: { TOLLGATE_TEST_STORE: 'postgres' }, unavailable: postgresUnavailable }]);
}

const results = [];
for (const [name, [cmd, ...args], options = {}] of stages) {
  const started = Date.now();
  const why = options.unavailable === undefined ? undefined : await options.unavailable();
  if (why !== undefined) {
    const required = process.env.TOLLGATE_TEST_PG_REQUIRED === '1';
    console.log(`\n=== ${name}: ${required ? 'cannot run' : 'skipped'}: ${why}`);
    results.push({ name, ok: !required, skipped: why, seconds: '0.0' });
    continue;
  }
  console.log(`\n=== ${name}: ${[cmd, ...args].join(' ').slice(0, 200)}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...options.env } });
  const ok = r.status === 0;
  results.push({ name, ok, seconds: ((Date.now() - started) / 1000).toFixed(1) });
}
console.log('\n=== summary');
for (const r of results) {
  const status = !r.ok ? 'FAIL' : r.skipped !== undefined ? 'skip' : 'ok  ';
  console.log(`${status} ${r.name} (${r.skipped ?? `${r.seconds}s`})`);
}
const failed = results.filter((r) => !r.ok).length;
process.exit(failed === 0 ? 0 : 1);
