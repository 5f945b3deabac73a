import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { fetchModule, ModuleFetchError, sha256Hex } from '../../mesh/module-source.js';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-module-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
const wasmPath = join(dir, 'm.wasm');
writeFileSync(wasmPath, wasm);
writeFileSync(join(dir, 'not.wasm'), 'hello world');

describe('module source (file:// like istio-agent, sha256 checked)', () => {
  it('reads a file:// module whose sha256 matches', async () => {
    assert.deepEqual(await fetchModule(pathToFileURL(wasmPath).href, sha256Hex(wasm)), wasm);
  });
  it('reads it without a pin', async () => {
    assert.deepEqual(await fetchModule(pathToFileURL(wasmPath).href), wasm);
  });
  it('refuses a sha256 mismatch', async () => {
    await assert.rejects(fetchModule(pathToFileURL(wasmPath).href, '0'.repeat(64)), (e: Error) => e instanceof ModuleFetchError && /sha256 mismatch/.test(e.message));
  });
  it('refuses something that is not wasm', async () => {
    await assert.rejects(fetchModule(pathToFileURL(join(dir, 'not.wasm')).href), /bad magic number/);
  });
  it('refuses a missing file and schemes it does not fetch', async () => {
    await assert.rejects(fetchModule(pathToFileURL(join(dir, 'missing.wasm')).href), /cannot read/);
    await assert.rejects(fetchModule('oci://registry.example/tollgate:1'), /not fetched by the local sidecar/);
    await assert.rejects(fetchModule('not a url'), /bad module url/);
  });
});
