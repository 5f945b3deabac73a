// The image shapes istio-agent accepts, built without a registry: layer counts, media types, determinism, the tar.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { sha256Digest } from '../../oci/digest.js';
import { MEDIA_TYPES, TITLE_ANNOTATION, buildWasmImage, deterministicGzip, type Descriptor } from '../../oci/manifest.js';
import { singleFileTar } from '../../oci/tar.js';
import { testWasm } from './wasm-fixture.js';

interface Manifest {
  schemaVersion: number;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

const parse = (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as Manifest;

// tsconfig's lib (ES2023) does not declare the WebAssembly global; Node provides it.
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } };

test('the test module is valid WebAssembly', () => {
  assert.ok(wasmApi.validate(testWasm('x')));
});

test('artifact: exactly two layers, config JSON then raw wasm, config doubles as the manifest config', () => {
  const wasm = testWasm('artifact');
  const image = buildWasmImage(wasm, { format: 'artifact', rootIds: ['tollgate'] });
  const manifest = parse(image.manifest);
  assert.equal(manifest.schemaVersion, 2);
  assert.equal(manifest.mediaType, MEDIA_TYPES.manifest);
  assert.equal(image.manifestDigest, sha256Digest(image.manifest));
  assert.equal(manifest.layers.length, 2);
  const [config, module] = manifest.layers as [Descriptor, Descriptor];
  assert.equal(config.mediaType, 'application/vnd.module.wasm.config.v1+json');
  assert.equal(module.mediaType, 'application/vnd.module.wasm.content.layer.v1+wasm');
  assert.deepEqual(manifest.config, config);
  assert.equal(module.annotations?.[TITLE_ANNOTATION], 'plugin.wasm');
  assert.equal(config.annotations?.[TITLE_ANNOTATION], 'runtime-config.json');
  assert.equal(module.digest, sha256Digest(wasm));
  assert.equal(module.size, wasm.length);
  // The config blob is uploaded once even though the manifest names it twice.
  assert.equal(image.blobs.length, 2);
  const runtime = JSON.parse(image.blobs[0]?.bytes.toString('utf8') ?? '') as { type: string; abiVersions: string[]; config: { rootIds: string[] } };
  assert.deepEqual(runtime, { type: 'envoy_proxy', abiVersions: ['v0.2.1'], config: { rootIds: ['tollgate'] } });
});

test('the same module always gives the same manifest digest; a different module a different one', () => {
  for (const format of ['artifact', 'compat'] as const) {
    const a = buildWasmImage(testWasm('same'), { format, rootIds: ['tollgate'] });
    const b = buildWasmImage(testWasm('same'), { format, rootIds: ['tollgate'] });
    const c = buildWasmImage(testWasm('other'), { format, rootIds: ['tollgate'] });
    assert.equal(a.manifestDigest, b.manifestDigest, format);
    assert.notEqual(a.manifestDigest, c.manifestDigest, format);
  }
});

test('compat: one gzip tar layer holding plugin.wasm, an OCI image config whose diff_id is the tar', () => {
  const wasm = testWasm('compat');
  const image = buildWasmImage(wasm, { format: 'compat', rootIds: ['tollgate'] });
  const manifest = parse(image.manifest);
  assert.equal(manifest.layers.length, 1);
  const layer = manifest.layers[0] as Descriptor;
  assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  assert.equal(manifest.config.mediaType, MEDIA_TYPES.imageConfig);
  assert.equal(manifest.annotations?.['module.wasm.image/variant'], 'compat');
  const layerBytes = image.blobs.find((b) => b.descriptor.digest === layer.digest)?.bytes;
  assert.ok(layerBytes !== undefined);
  const tar = gunzipSync(layerBytes);
  const config = JSON.parse(image.blobs[0]?.bytes.toString('utf8') ?? '') as { rootfs: { diff_ids: string[] } };
  assert.deepEqual(config.rootfs.diff_ids, [sha256Digest(tar)]);
});

test('the gzip header carries no timestamp and a fixed OS byte', () => {
  const gz = deterministicGzip(Buffer.from('hello'));
  assert.deepEqual([...gz.subarray(4, 8)], [0, 0, 0, 0]);
  assert.equal(gz[9], 3);
  assert.equal(gunzipSync(gz).toString(), 'hello');
});

test('the tar is read back by GNU tar as one root-owned file with mtime 0 and the exact bytes', (t) => {
  if (spawnSync('tar', ['--version']).status !== 0) {
    t.skip('SKIPPED: tar not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-tar-'));
  try {
    const wasm = testWasm('x'.repeat(1000)); // spans more than one 512-byte block
    writeFileSync(join(dir, 'layer.tar'), singleFileTar('plugin.wasm', wasm));
    const listing = spawnSync('tar', ['-tvf', join(dir, 'layer.tar'), '--numeric-owner', '--full-time'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    assert.equal(listing.status, 0, listing.stderr);
    assert.match(listing.stdout.trim(), new RegExp(`^-rw-r--r-- 0/0 +${wasm.length} 1970-01-01 00:00:00 plugin\\.wasm$`));
    const extract = spawnSync('tar', ['-xf', join(dir, 'layer.tar'), '-C', dir]);
    assert.equal(extract.status, 0);
    assert.deepEqual(readFileSync(join(dir, 'plugin.wasm')), wasm);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bytes that are not a wasm module are refused before anything is built', () => {
  for (const bytes of [Buffer.alloc(0), Buffer.from('\0asm'), Buffer.from('<html>not wasm</html>'), Buffer.from([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0])]) {
    assert.throws(() => buildWasmImage(bytes, { format: 'artifact', rootIds: ['tollgate'] }), /not a WebAssembly binary module/);
  }
});

test('tar refuses a name longer than the ustar name field', () => {
  assert.throws(() => singleFileTar('x'.repeat(101), Buffer.alloc(1)), /does not fit/);
});
