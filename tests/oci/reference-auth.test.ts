// Image references, WWW-Authenticate challenges, docker config credentials and upload Location handling.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { credentialsFromDockerConfig, parseChallenge, readDockerConfig, resolveCredentials } from '../../oci/auth.js';
import { apiHost, isLoopbackHost, parseReference } from '../../oci/reference.js';
import { withDigestParam } from '../../oci/registry.js';

test('references: registry, repository and tag, docker defaults', () => {
  assert.deepEqual(parseReference('localhost:5000/tollgate/filter:v1'), { registry: 'localhost:5000', repository: 'tollgate/filter', tag: 'v1' });
  assert.deepEqual(parseReference('oci://ghcr.io/acme/tollgate:1.2.3'), { registry: 'ghcr.io', repository: 'acme/tollgate', tag: '1.2.3' });
  assert.deepEqual(parseReference('ghcr.io/acme/tollgate'), { registry: 'ghcr.io', repository: 'acme/tollgate', tag: 'latest' });
  assert.deepEqual(parseReference('acme/tollgate:1'), { registry: 'docker.io', repository: 'acme/tollgate', tag: '1' });
  assert.deepEqual(parseReference('tollgate'), { registry: 'docker.io', repository: 'library/tollgate', tag: 'latest' });
  assert.equal(apiHost('docker.io'), 'registry-1.docker.io');
  assert.equal(apiHost('127.0.0.1:5000'), '127.0.0.1:5000');
});

test('references: invalid names, tags and digests are refused with the reason', () => {
  assert.throws(() => parseReference('ghcr.io/Acme/tollgate:1'), /invalid repository/);
  assert.throws(() => parseReference('ghcr.io/acme/tollgate:-bad'), /invalid tag/);
  assert.throws(() => parseReference('ghcr.io/acme/tollgate@sha256:' + 'a'.repeat(64)), /needs a tag/);
  assert.throws(() => parseReference('ghcr.io/'), /invalid repository/);
});

test('loopback hosts', () => {
  for (const host of ['localhost:5000', '127.0.0.1', '127.1.2.3:80', '[::1]:5000']) assert.ok(isLoopbackHost(host), host);
  for (const host of ['ghcr.io', '10.0.0.1:5000', 'localhost.example.com']) assert.ok(!isLoopbackHost(host), host);
});

test('challenges: Bearer with a quoted scope holding a comma, Basic, case-insensitive scheme', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push' },
  });
  assert.deepEqual(parseChallenge('basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  assert.deepEqual(parseChallenge('Bearer realm=unquoted, error="insufficient_scope"'), { scheme: 'bearer', params: { realm: 'unquoted', error: 'insufficient_scope' } });
  assert.equal(parseChallenge(''), undefined);
});

test('docker config: auths[host].auth, https:// keys, Docker Hub aliases, username/password fields', () => {
  const auth = (s: string) => Buffer.from(s).toString('base64');
  const config = {
    auths: {
      'https://index.docker.io/v1/': { auth: auth('hub:hub-pass') },
      'https://ghcr.io': { auth: auth('gh:tok:with:colons') },
      'registry.local:5000': { username: 'u', password: 'p' },
      'empty.example.com': {},
    },
  };
  assert.deepEqual(credentialsFromDockerConfig(config, 'docker.io'), { username: 'hub', password: 'hub-pass' });
  assert.deepEqual(credentialsFromDockerConfig(config, 'ghcr.io'), { username: 'gh', password: 'tok:with:colons' });
  assert.deepEqual(credentialsFromDockerConfig(config, 'registry.local:5000'), { username: 'u', password: 'p' });
  assert.equal(credentialsFromDockerConfig(config, 'empty.example.com'), undefined);
  assert.equal(credentialsFromDockerConfig(config, 'quay.io'), undefined);
  assert.equal(credentialsFromDockerConfig(null, 'quay.io'), undefined);
});

test('credential precedence: flags, then TOLLGATE_REGISTRY_*, then $DOCKER_CONFIG/config.json; bad JSON is an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-dockercfg-'));
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'r.example': { auth: Buffer.from('file:f').toString('base64') } } }));
    const env = { DOCKER_CONFIG: dir, TOLLGATE_REGISTRY_USERNAME: 'env', TOLLGATE_REGISTRY_PASSWORD: 'e' };
    assert.deepEqual(resolveCredentials('r.example', { username: 'flag', password: 'x' }, env), { username: 'flag', password: 'x' });
    assert.deepEqual(resolveCredentials('r.example', undefined, env), { username: 'env', password: 'e' });
    assert.deepEqual(resolveCredentials('r.example', undefined, { DOCKER_CONFIG: dir }), { username: 'file', password: 'f' });
    assert.equal(resolveCredentials('other.example', undefined, { DOCKER_CONFIG: dir }), undefined);
    assert.equal(readDockerConfig(join(dir, 'missing.json')), undefined);
    writeFileSync(join(dir, 'config.json'), '{not json');
    assert.throws(() => resolveCredentials('r.example', undefined, { DOCKER_CONFIG: dir }), /config\.json is not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('upload Location: digest is added with ? or & as the Location needs', () => {
  const d = `sha256:${'a'.repeat(64)}` as const;
  assert.equal(withDigestParam('http://r/v2/x/blobs/uploads/u1', d), `http://r/v2/x/blobs/uploads/u1?digest=sha256%3A${'a'.repeat(64)}`);
  assert.equal(withDigestParam('/v2/x/blobs/uploads/u1?_state=abc', d), `/v2/x/blobs/uploads/u1?_state=abc&digest=sha256%3A${'a'.repeat(64)}`);
});
