// Finding 9: `npm run bench` on a fresh clone failed (build/tollgate.wasm missing). The bench now builds what its parts
// read first. Checked twice: the decision (which steps, when) on a scratch tree, and the real command, `bench/run.ts`,
// on a copy of the repo without build/ and without the measuring parts (so nothing is timed), which must build the
// filter, its bench build and the SDK baseline, then finish.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareBench, staleBenchSteps } from '../../bench/prepare.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs: string[] = [];
const scratch = (): string => { const d = mkdtempSync(join(tmpdir(), 'tollgate-bench-')); dirs.push(d); return d; };
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const touch = (root: string, path: string, seconds: number): void => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), 'x');
  utimesSync(join(root, path), seconds, seconds);
};

describe('bench preparation decides what to build', () => {
  it('builds the filter and the fixtures when build/ is missing, once, in build order', async () => {
    const root = scratch();
    touch(root, 'assembly/index.ts', 1000);
    touch(root, 'tests/fixtures/sdk-passthrough/index.ts', 1000);
    const calls: string[][] = [];
    const ran = await prepareBench(root, async (r, steps) => { assert.equal(r, root); calls.push([...steps]); }, () => {});
    assert.deepEqual(ran, ['filter', 'fixtures']);
    assert.deepEqual(calls, [['filter', 'fixtures']]);
  });

  it('builds nothing when every output is newer than its sources, and only the stale step otherwise', async () => {
    const root = scratch();
    touch(root, 'assembly/quota/entry.ts', 1000);
    touch(root, 'tests/fixtures/sdk-passthrough/index.ts', 1000);
    for (const out of ['build/tollgate.wasm', 'build/tollgate.bench.wasm', 'build/fixtures/sdk-passthrough.wasm']) touch(root, out, 2000);
    const calls: string[][] = [];
    const record = async (_r: string, steps: readonly string[]): Promise<void> => { calls.push([...steps]); };
    assert.deepEqual(await prepareBench(root, record, () => {}), []);
    assert.deepEqual(calls, []);
    touch(root, 'assembly/quota/entry.ts', 3000); // an edited source, however deep
    assert.deepEqual(staleBenchSteps(root), ['filter']);
    touch(root, 'build/tollgate.wasm', 4000);
    rmSync(join(root, 'build/tollgate.bench.wasm')); // one of a step's outputs missing is enough
    rmSync(join(root, 'build/fixtures/sdk-passthrough.wasm'));
    assert.deepEqual(staleBenchSteps(root), ['filter', 'fixtures']);
  });
});

describe('npm run bench on a fresh clone', () => {
  it('builds what the bench reads, then runs (no parts here, so nothing is measured)', () => {
    const root = scratch();
    for (const path of ['bench/run.ts', 'bench/row.ts', 'bench/prepare.ts', 'mesh/filter-build.ts', 'scripts', 'assembly', 'asconfig.json', 'package.json', 'tests/fixtures']) {
      cpSync(join(repo, path), join(root, path), { recursive: true });
    }
    symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'), 'dir');
    assert.equal(existsSync(join(root, 'build')), false);
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
    assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
    for (const out of ['build/tollgate.wasm', 'build/tollgate.bench.wasm', 'build/fixtures/sdk-passthrough.wasm']) {
      assert.ok(existsSync(join(root, out)), `${out} built`);
    }
    assert.match(res.stderr, /bench: building filter, fixtures/);
    assert.match(readFileSync(join(root, 'bench', 'results.json'), 'utf8'), /"measuredAt"/);
  });
});
