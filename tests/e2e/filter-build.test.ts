import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { filterNeedsBuild, newestMtime } from '../../mesh/filter-build.js';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-build-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const src = join(dir, 'assembly');
const wasm = join(dir, 'build', 'tollgate.wasm');
mkdirSync(join(src, 'quota'), { recursive: true });
mkdirSync(join(dir, 'build'));
writeFileSync(join(src, 'index.ts'), '');
writeFileSync(join(src, 'quota', 'entry.ts'), '');
const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);

describe('filter rebuild check (npm start builds only when needed)', () => {
  it('builds when the wasm is missing', () => {
    assert.equal(filterNeedsBuild(wasm, src), true);
  });
  it('does not build when the wasm is newer than every source', () => {
    at(join(src, 'index.ts'), 1000);
    at(join(src, 'quota', 'entry.ts'), 1000);
    writeFileSync(wasm, 'x');
    at(wasm, 2000);
    assert.equal(filterNeedsBuild(wasm, src), false);
  });
  it('builds when any source, however deep, is newer', () => {
    at(join(src, 'quota', 'entry.ts'), 3000);
    assert.equal(filterNeedsBuild(wasm, src), true);
    assert.equal(newestMtime(src), 3_000_000);
  });
  it('treats a missing source directory as nothing to build from', () => {
    assert.equal(newestMtime(join(dir, 'nope')), 0);
  });
});
