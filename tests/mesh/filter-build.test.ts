// The filter rebuild check `npm start` (and the bench) runs: each case builds its own tree, so the cases hold alone
// and in any order.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { filterNeedsBuild, newestMtime } from '../../mesh/filter-build.js';

const at = (path: string, seconds: number): void => utimesSync(path, seconds, seconds);

/** A fresh tree: assembly/index.ts and assembly/quota/entry.ts at `sources` seconds, the wasm at `wasmAt` if given. */
function tree(sources: number, wasmAt?: number): { dir: string; src: string; wasm: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-build-'));
  const src = join(dir, 'assembly');
  const wasm = join(dir, 'build', 'tollgate.wasm');
  mkdirSync(join(src, 'quota'), { recursive: true });
  mkdirSync(join(dir, 'build'));
  for (const f of [join(src, 'index.ts'), join(src, 'quota', 'entry.ts')]) {
    writeFileSync(f, '');
    at(f, sources);
  }
  if (wasmAt !== undefined) {
    writeFileSync(wasm, 'x');
    at(wasm, wasmAt);
  }
  return { dir, src, wasm, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('filter rebuild check (npm start builds only when needed)', () => {
  it('builds when the wasm is missing', () => {
    using t = tree(1000);
    assert.equal(filterNeedsBuild(t.wasm, t.src), true);
  });

  it('does not build when the wasm is newer than every source', () => {
    using t = tree(1000, 2000);
    assert.equal(filterNeedsBuild(t.wasm, t.src), false);
  });

  it('builds when any source, however deep, is newer than the wasm', () => {
    using t = tree(1000, 2000);
    at(join(t.src, 'quota', 'entry.ts'), 3000);
    assert.equal(filterNeedsBuild(t.wasm, t.src), true);
    assert.equal(newestMtime(t.src), 3_000_000);
  });

  it('treats a missing source directory as nothing to build from', () => {
    using t = tree(1000);
    assert.equal(newestMtime(join(t.dir, 'nope')), 0);
  });
});
