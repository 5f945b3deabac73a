// `tollgate publish` against a real registry: Debian's docker-registry (distribution 2.x) started per suite on a free
// loopback port, anonymous, with htpasswd (Basic) auth, with token (Bearer) auth behind a loopback token server, and
// over TLS with a self-signed CA through the CLI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { resolveCredentials } from '../../oci/auth.js';
import { isDigest, sha256Digest, type Digest } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import { MEDIA_TYPES, TITLE_ANNOTATION, buildWasmImage, type Descriptor, type ImageFormat } from '../../oci/manifest.js';
import { pushImage } from '../../oci/push.js';
import { RegistryClient } from '../../oci/registry.js';
import { commandMissing, freePort, htpasswdLine, registryUnavailable, selfSignedCertificate, startRegistry, type RunningRegistry } from './registry-server.js';
import { startTokenServer, type TokenServer } from './token-server.js';
import { testWasm } from './wasm-fixture.js';

const root = new URL('../..', import.meta.url).pathname;
const noRegistry = registryUnavailable();
const noHtpasswd = noRegistry ?? commandMissing('htpasswd', 'apache2-utils');
const noOpenssl = noRegistry ?? commandMissing('openssl', 'openssl');
for (const reason of new Set([noRegistry, noHtpasswd, noOpenssl])) if (reason !== undefined) console.warn(`tests/oci/registry.test.ts: ${reason}`);

interface ParsedManifest {
  schemaVersion: number;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

function client(registry: RunningRegistry, repository: string, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient {
  return new RegistryClient({ registry: registry.host, repository, insecure: true, ...extra });
}

async function pullManifest(c: RegistryClient, tag: string): Promise<{ digest: Digest; mediaType: string; manifest: ParsedManifest }> {
  const fetched = await c.getManifest(tag);
  return { digest: fetched.digest, mediaType: fetched.mediaType, manifest: JSON.parse(fetched.bytes.toString('utf8')) as ParsedManifest };
}

async function push(c: RegistryClient, wasm: Buffer, tag: string, format: ImageFormat = 'artifact') {
  const image = buildWasmImage(wasm, { format, rootIds: ['tollgate'] });
  return { image, result: await pushImage(c, image, tag) };
}

describe('anonymous registry', { skip: noRegistry }, () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(() => registry?.stop());

  test('artifact: pulled back with the same digest, two layers, media types, annotations and bytes', async () => {
    const wasm = testWasm('artifact');
    const c = client(registry, 'tollgate/filter');
    const { image, result } = await push(c, wasm, 'v1');
    assert.equal(result.manifestDigest, image.manifestDigest);
    assert.equal(result.uploaded.length, 2);
    assert.equal(result.skipped.length, 0);

    const pulled = await pullManifest(c, 'v1');
    assert.equal(pulled.digest, image.manifestDigest);
    assert.equal(pulled.mediaType, MEDIA_TYPES.manifest);
    assert.equal(pulled.manifest.schemaVersion, 2);
    assert.equal(pulled.manifest.layers.length, 2);
    assert.deepEqual(pulled.manifest.layers.map((l) => l.mediaType), [MEDIA_TYPES.wasmConfig, MEDIA_TYPES.wasmLayer]);
    assert.deepEqual(pulled.manifest.config, pulled.manifest.layers[0]);
    assert.equal(pulled.manifest.layers[1]?.annotations?.[TITLE_ANNOTATION], 'plugin.wasm');

    const wasmLayer = pulled.manifest.layers[1] as Descriptor;
    assert.deepEqual(await c.getBlob(wasmLayer.digest), wasm);
    const config = JSON.parse((await c.getBlob(pulled.manifest.config.digest)).toString('utf8')) as { type: string; config: { rootIds: string[] } };
    assert.equal(config.type, 'envoy_proxy');
    assert.deepEqual(config.config.rootIds, ['tollgate']);
    // Also pullable by digest, which is what istio-agent compares the WasmPlugin sha256 with.
    assert.equal((await c.getManifest(image.manifestDigest)).digest, image.manifestDigest);
  });

  test('pushing the same module again is idempotent: same digest, every blob skipped', async () => {
    const wasm = testWasm('idempotent');
    const first = await push(client(registry, 'tollgate/again'), wasm, 'v1');
    const second = await push(client(registry, 'tollgate/again'), wasm, 'v1');
    assert.equal(second.result.manifestDigest, first.result.manifestDigest);
    assert.equal(second.result.uploaded.length, 0);
    assert.equal(second.result.skipped.length, 2);
  });

  test('compat: one gzip tar layer whose plugin.wasm is the module, same digest on re-push', async () => {
    const wasm = testWasm('compat');
    const c = client(registry, 'tollgate/compat');
    const first = await push(c, wasm, 'v1', 'compat');
    const again = await push(c, wasm, 'v2', 'compat');
    assert.equal(again.result.manifestDigest, first.result.manifestDigest);
    const pulled = await pullManifest(c, 'v1');
    assert.equal(pulled.digest, first.image.manifestDigest);
    assert.equal(pulled.manifest.layers.length, 1);
    const layer = pulled.manifest.layers[0] as Descriptor;
    assert.equal(layer.mediaType, MEDIA_TYPES.tarGzipLayer);
    const tar = gunzipSync(await c.getBlob(layer.digest));
    assert.equal(tar.subarray(0, 11).toString(), 'plugin.wasm');
    assert.deepEqual(tar.subarray(512, 512 + wasm.length), wasm);
    const imageConfig = JSON.parse((await c.getBlob(pulled.manifest.config.digest)).toString()) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(imageConfig.rootfs.diff_ids, [sha256Digest(tar)]);
  });

  test('a manifest naming a blob the registry lacks is refused with the registry error code', async () => {
    const c = client(registry, 'tollgate/broken');
    const image = buildWasmImage(testWasm('broken'), { format: 'artifact', rootIds: ['tollgate'] });
    await assert.rejects(c.putManifest('v1', image.mediaType, image.manifest), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.kind, 'protocol');
      assert.match(error.message, /MANIFEST_BLOB_UNKNOWN|BLOB_UNKNOWN/);
      return true;
    });
  });
});

describe('registry with htpasswd (Basic) auth', { skip: noHtpasswd }, () => {
  let registry: RunningRegistry;
  let work: string;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tollgate-basic-'));
    writeFileSync(join(work, 'htpasswd'), htpasswdLine('ci', 'right-password'));
    registry = await startRegistry({ auth: { htpasswd: { realm: 'tollgate-test', path: join(work, 'htpasswd') } } });
  });
  after(async () => {
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('credentials from docker config.json (auths[host].auth) push and pull', async () => {
    const dockerConfig = join(work, 'docker');
    mkdirSync(dockerConfig, { recursive: true });
    const auth = Buffer.from('ci:right-password').toString('base64');
    writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
    const credentials = resolveCredentials(registry.host, undefined, { DOCKER_CONFIG: dockerConfig });
    assert.deepEqual(credentials, { username: 'ci', password: 'right-password' });
    const c = client(registry, 'tollgate/basic', { credentials });
    const { image } = await push(c, testWasm('basic'), 'v1');
    assert.equal((await c.getManifest('v1')).digest, image.manifestDigest);
  });

  test('wrong password: an auth error naming the registry and the Basic scheme', async () => {
    const c = client(registry, 'tollgate/basic', { credentials: { username: 'ci', password: 'wrong' } });
    await assert.rejects(push(c, testWasm('wrong'), 'v1'), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.kind, 'auth');
      assert.match(error.message, new RegExp(`authentication to registry ${registry.host} failed \\(Basic scheme\\)`));
      assert.match(error.message, /user 'ci'/);
      assert.doesNotMatch(error.message, /wrong/);
      return true;
    });
  });

  test('no credentials: the error says the registry wants Basic auth and where credentials come from', async () => {
    await assert.rejects(push(client(registry, 'tollgate/basic'), testWasm('anon'), 'v1'), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.kind, 'auth');
      assert.match(error.message, /requires authentication \(Basic scheme\).*TOLLGATE_REGISTRY_USERNAME/);
      return true;
    });
  });
});

describe('registry with token (Bearer) auth and a loopback token server', { skip: noOpenssl }, () => {
  let registry: RunningRegistry;
  let tokens: TokenServer;
  let work: string;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tollgate-bearer-'));
    const signing = selfSignedCertificate(work, 'token-signer');
    tokens = await startTokenServer({ ...signing, username: 'robot', password: 'robot-secret' });
    registry = await startRegistry({
      auth: { token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootcertbundle: signing.certificate } },
    });
  });
  after(async () => {
    await registry?.stop();
    await tokens?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('exchanges credentials for a token scoped to repository:<name>:pull,push and pushes', async () => {
    const c = client(registry, 'tollgate/bearer', { credentials: { username: 'robot', password: 'robot-secret' } });
    const { image, result } = await push(c, testWasm('bearer'), 'v1');
    assert.equal(result.uploaded.length, 2);
    assert.ok(tokens.requestedScopes.includes('repository:tollgate/bearer:pull,push'));
    assert.equal((await c.getManifest('v1')).digest, image.manifestDigest);
  });

  test('wrong password: an auth error naming the registry, the Bearer scheme and the token endpoint', async () => {
    const c = client(registry, 'tollgate/bearer', { credentials: { username: 'robot', password: 'nope' } });
    await assert.rejects(push(c, testWasm('bearer-wrong'), 'v1'), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.kind, 'auth');
      assert.match(error.message, new RegExp(`authentication to registry ${registry.host} failed \\(Bearer scheme\\)`));
      assert.ok(error.message.includes(tokens.realm));
      return true;
    });
  });

  test('a token for another repository does not grant this one (the registry checks the scope)', async () => {
    const c = new RegistryClient({ registry: registry.host, repository: 'tollgate/bearer', insecure: true, credentials: { username: 'robot', password: 'robot-secret' }, actions: 'pull' });
    await assert.rejects(push(c, testWasm('pull-only'), 'v1'), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.kind, 'auth');
      return true;
    });
  });
});

test('registry down: an unreachable error naming the registry', async () => {
  const port = await freePort();
  const c = new RegistryClient({ registry: `127.0.0.1:${port}`, repository: 'tollgate/filter', insecure: true });
  await assert.rejects(push(c, testWasm('down'), 'v1'), (error: unknown) => {
    assert.ok(error instanceof RegistryError);
    assert.equal(error.kind, 'unreachable');
    assert.match(error.message, new RegExp(`registry 127\\.0\\.0\\.1:${port} is unreachable.*ECONNREFUSED`));
    return true;
  });
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin/tollgate.mjs'), 'publish', ...args], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('tollgate publish CLI over HTTPS (self-signed CA) with Basic auth', { skip: noOpenssl ?? noHtpasswd }, () => {
  let registry: RunningRegistry;
  let work: string;
  let certificate: string;
  let wasmPath: string;
  let baseEnv: NodeJS.ProcessEnv;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tollgate-tls-'));
    const tls = selfSignedCertificate(work);
    certificate = tls.certificate;
    writeFileSync(join(work, 'htpasswd'), htpasswdLine('ci', 'tls-password'));
    registry = await startRegistry({ tls, auth: { htpasswd: { realm: 'tollgate-test', path: join(work, 'htpasswd') } } });
    wasmPath = join(work, 'filter.wasm');
    writeFileSync(wasmPath, testWasm('cli'));
    // An empty DOCKER_CONFIG so the developer's own ~/.docker/config.json never leaks into the test.
    baseEnv = { PATH: process.env.PATH, HOME: work, DOCKER_CONFIG: join(work, 'no-docker-config') };
  });
  after(async () => {
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('pushes, then prints the digest and a ready-to-paste WasmPlugin url and sha256', async () => {
    const ref = `${registry.host}/tollgate/cli:1.0.0`;
    const env = { ...baseEnv, NODE_EXTRA_CA_CERTS: certificate, TOLLGATE_REGISTRY_USERNAME: 'ci', TOLLGATE_REGISTRY_PASSWORD: 'tls-password' };
    const r = await runCli([ref, '--wasm', wasmPath], env);
    assert.equal(r.code, 0, r.stderr);
    const sha = /sha256: ([a-f0-9]{64})/.exec(r.stdout)?.[1];
    assert.ok(sha !== undefined, r.stdout);
    assert.ok(r.stdout.includes(`url: oci://${ref}`), r.stdout);
    assert.ok(r.stdout.includes(`digest: sha256:${sha}`));
    const expected = buildWasmImage(testWasm('cli'), { format: 'artifact', rootIds: ['tollgate'] }).manifestDigest;
    assert.ok(isDigest(expected));
    assert.equal(`sha256:${sha}`, expected);
    assert.doesNotMatch(r.stdout + r.stderr, /tls-password/);
  });

  test('--username with --password-stdin: a wrong password exits 1 with a Basic auth error', async () => {
    const env = { ...baseEnv, NODE_EXTRA_CA_CERTS: certificate };
    const r = await runCli([`${registry.host}/tollgate/cli:1.0.0`, '--wasm', wasmPath, '--username', 'ci', '--password-stdin'], env, 'not-it\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`authentication to registry ${registry.host} failed \\(Basic scheme\\)`));
  });

  test('an untrusted certificate is a TLS error that says how to trust the CA', async () => {
    const r = await runCli([`${registry.host}/tollgate/cli:1.0.0`, '--wasm', wasmPath], { ...baseEnv, TOLLGATE_REGISTRY_USERNAME: 'ci', TOLLGATE_REGISTRY_PASSWORD: 'tls-password' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`TLS to registry ${registry.host} failed .*NODE_EXTRA_CA_CERTS`));
  });
});
