// `tollgate publish` argument handling and the OCI layout output, run as the real CLI process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { digestHex, sha256Digest } from '../../oci/digest.js';
import { buildWasmImage } from '../../oci/manifest.js';
import { testWasm } from './wasm-fixture.js';

const root = new URL('../..', import.meta.url).pathname;
let work: string;
let wasmPath: string;

function publish(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin/tollgate.mjs'), 'publish', ...args], { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: work } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'tollgate-publish-cli-'));
  wasmPath = join(work, 'filter.wasm');
  writeFileSync(wasmPath, testWasm('cli'));
});
after(() => rmSync(work, { recursive: true, force: true }));

test('--help prints the usage and exits 0', () => {
  const r = publish('--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /usage: tollgate publish <registry>\/<repository>:<tag>/);
  assert.match(r.stdout, /--format/);
});

test('usage errors exit 2 with the reason', () => {
  assert.match(publish().stderr, /missing image reference/);
  assert.equal(publish().code, 2);
  const badFormat = publish('localhost:5000/a:v1', '--format', 'zip');
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /--format must be artifact or compat/);
  const lonelyUser = publish('localhost:5000/a:v1', '--username', 'u');
  assert.equal(lonelyUser.code, 2);
  assert.match(lonelyUser.stderr, /--username and --password-stdin go together/);
  assert.equal(publish('a:v1', 'b:v1').code, 2);
});

test('a missing or non-wasm file exits 1 before any network traffic', () => {
  const missing = publish('127.0.0.1:1/a:v1', '--insecure', '--wasm', join(work, 'nope.wasm'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*nope\.wasm: ENOENT/);
  writeFileSync(join(work, 'text.wasm'), 'hello');
  const notWasm = publish('127.0.0.1:1/a:v1', '--insecure', '--wasm', join(work, 'text.wasm'));
  assert.equal(notWasm.code, 1);
  assert.match(notWasm.stderr, /not a WebAssembly binary module/);
});

test('--oci-layout without a reference writes a valid OCI image layout, and a second tag is added beside it', () => {
  const dir = join(work, 'layout');
  const first = publish('--oci-layout', dir, '--wasm', wasmPath);
  assert.equal(first.code, 0, first.stderr);
  const second = publish('127.0.0.1:1/acme/tollgate:2.0', '--oci-layout', dir, '--wasm', wasmPath, '--format', 'compat', '--insecure');
  // The push itself fails (nothing listens on port 1) but the layout is written first.
  assert.equal(second.code, 1);
  assert.match(second.stderr, /registry 127\.0\.0\.1:1 is unreachable/);
  assert.ok(existsSync(dir));
  assert.match(second.stdout, /wrote OCI image layout/);

  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  const names = index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']);
  assert.deepEqual(names, ['latest', '2.0']);
  const artifact = buildWasmImage(testWasm('cli'), { format: 'artifact', rootIds: ['tollgate'] });
  assert.equal(index.manifests[0]?.digest, artifact.manifestDigest);
  // Every blob is stored under its own digest.
  for (const entry of index.manifests) {
    const manifestBytes = readFileSync(join(dir, 'blobs', 'sha256', digestHex(entry.digest as `sha256:${string}`)));
    assert.equal(sha256Digest(manifestBytes), entry.digest);
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      const blob = readFileSync(join(dir, 'blobs', 'sha256', d.slice('sha256:'.length)));
      assert.equal(sha256Digest(blob), d);
    }
  }
});
