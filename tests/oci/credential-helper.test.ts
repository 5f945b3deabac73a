// Docker credential helpers, exercised with small shell-script helpers on a temporary PATH.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveCredentials } from '../../oci/auth.js';
import { helperFor, helperServerUrl } from '../../oci/credential-helper.js';

let dir: string;
let env: NodeJS.ProcessEnv;

function writeHelper(name: string, script: string): void {
  const path = join(dir, `docker-credential-${name}`);
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
}

function writeDockerConfig(config: object): void {
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-credhelper-'));
  env = { DOCKER_CONFIG: dir, PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  // Echoes the server URL it was asked about as the user name, to prove the protocol.
  writeHelper('echo', 'read server; [ "$1" = get ] || exit 3; printf \'{"ServerURL":"%s","Username":"%s","Secret":"s3cret"}\' "$server" "$server"');
  writeHelper('empty', 'echo "credentials not found in native keychain"; exit 1');
  writeHelper('broken', 'echo "keychain locked" >&2; exit 2');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('helper selection: credHelpers[host] before credsStore; Docker Hub is asked by its historical URL', () => {
  assert.equal(helperFor({ credHelpers: { 'ghcr.io': 'gh' }, credsStore: 'desktop' }, 'ghcr.io'), 'gh');
  assert.equal(helperFor({ credHelpers: { 'ghcr.io': 'gh' }, credsStore: 'desktop' }, 'quay.io'), 'desktop');
  assert.equal(helperFor({}, 'quay.io'), undefined);
  assert.equal(helperServerUrl('docker.io'), 'https://index.docker.io/v1/');
  assert.equal(helperServerUrl('localhost:5000'), 'localhost:5000');
});

test('credHelpers: the helper is run with `get` and the server on stdin, and its Username/Secret are used', () => {
  writeDockerConfig({ credHelpers: { 'registry.local:5000': 'echo' } });
  assert.deepEqual(resolveCredentials('registry.local:5000', undefined, env), { username: 'registry.local:5000', password: 's3cret' });
});

test('a store with no entry falls back to auths; flags and environment still win over any helper', () => {
  writeDockerConfig({ credsStore: 'empty', auths: { 'registry.local': { auth: Buffer.from('file:f').toString('base64') } } });
  assert.deepEqual(resolveCredentials('registry.local', undefined, env), { username: 'file', password: 'f' });
  writeDockerConfig({ credsStore: 'echo' });
  assert.deepEqual(resolveCredentials('registry.local', { username: 'flag', password: 'x' }, env), { username: 'flag', password: 'x' });
  assert.deepEqual(resolveCredentials('registry.local', undefined, { ...env, TOLLGATE_REGISTRY_USERNAME: 'e', TOLLGATE_REGISTRY_PASSWORD: 'p' }), { username: 'e', password: 'p' });
});

test('a helper that fails or is missing is an error naming the helper and the registry', () => {
  writeDockerConfig({ credsStore: 'broken' });
  assert.throws(() => resolveCredentials('registry.local', undefined, env), /docker-credential-broken for registry\.local failed \(exit 2\): keychain locked/);
  writeDockerConfig({ credsStore: 'nonexistent' });
  assert.throws(() => resolveCredentials('registry.local', undefined, env), /docker-credential-nonexistent for registry\.local could not run: ENOENT/);
});
