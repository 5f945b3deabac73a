// Registry behaviours the Debian registry does not show: a relative upload Location carrying a query, a token
// endpoint that answers `access_token` only, anonymous Bearer tokens, and unusual challenges. A scripted fetch
// stands in for the registry and records what the client sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RegistryError } from '../../oci/errors.js';
import { buildWasmImage } from '../../oci/manifest.js';
import { pushImage } from '../../oci/push.js';
import { RegistryClient } from '../../oci/registry.js';
import { testWasm } from './wasm-fixture.js';

interface Sent {
  method: string;
  url: string;
  authorization: string | null;
}

type Handler = (method: string, url: URL, headers: Headers) => Response;

function scriptedFetch(handler: Handler, sent: Sent[]): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const headers = new Headers(init?.headers);
    const method = init?.method ?? 'GET';
    sent.push({ method, url: url.href, authorization: headers.get('authorization') });
    return handler(method, url, headers);
  }) as typeof fetch;
}

/** A registry that wants Bearer tokens from https://auth.example/token and hands out relative upload Locations. */
function bearerRegistry(tokenBody: object): Handler {
  const stored = new Set<string>();
  return (method, url, headers) => {
    if (url.host === 'auth.example') {
      return Response.json(tokenBody);
    }
    if (headers.get('authorization') !== 'Bearer t0k') {
      return new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer realm="https://auth.example/token",service="reg.example"' } });
    }
    const path = url.pathname;
    if (method === 'GET' && path === '/v2/') return new Response('{}');
    if (method === 'HEAD') return new Response(null, { status: stored.has(path.split('/').pop() ?? '') ? 200 : 404 });
    if (method === 'POST') return new Response(null, { status: 202, headers: { location: '/v2/acme/filter/blobs/uploads/u1?_state=s' } });
    if (method === 'PUT' && path.startsWith('/v2/acme/filter/blobs/uploads/')) {
      stored.add(url.searchParams.get('digest') ?? '');
      return new Response(null, { status: 201 });
    }
    if (method === 'PUT' && path === '/v2/acme/filter/manifests/v1') return new Response(null, { status: 201 });
    return new Response(null, { status: 500 });
  };
}

test('Bearer with an access_token reply and a relative Location that already has a query', async () => {
  const sent: Sent[] = [];
  const fetch = scriptedFetch(bearerRegistry({ access_token: 't0k' }), sent);
  const client = new RegistryClient({ registry: 'reg.example', repository: 'acme/filter', credentials: { username: 'u', password: 'p' }, fetch });
  const image = buildWasmImage(testWasm('fake'), { format: 'artifact', rootIds: ['tollgate'] });
  const result = await pushImage(client, image, 'v1');
  assert.equal(result.manifestDigest, image.manifestDigest);

  const tokenRequest = sent.find((s) => s.url.startsWith('https://auth.example/'));
  assert.ok(tokenRequest !== undefined);
  const tokenUrl = new URL(tokenRequest.url);
  assert.equal(tokenUrl.searchParams.get('scope'), 'repository:acme/filter:pull,push');
  assert.equal(tokenUrl.searchParams.get('service'), 'reg.example');
  assert.equal(tokenRequest.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
  // Only one token exchange for the whole push.
  assert.equal(sent.filter((s) => s.url.startsWith('https://auth.example/')).length, 1);

  const uploads = sent.filter((s) => s.method === 'PUT' && s.url.includes('/blobs/uploads/'));
  assert.equal(uploads.length, 2);
  for (const upload of uploads) {
    assert.match(upload.url, /^https:\/\/reg\.example\/v2\/acme\/filter\/blobs\/uploads\/u1\?_state=s&digest=sha256%3A[a-f0-9]{64}$/);
    assert.equal(upload.authorization, 'Bearer t0k');
  }
});

test('anonymous Bearer: the token request carries no credentials', async () => {
  const sent: Sent[] = [];
  const client = new RegistryClient({ registry: 'reg.example', repository: 'acme/filter', fetch: scriptedFetch(bearerRegistry({ token: 't0k' }), sent) });
  await client.ping();
  const tokenRequest = sent.find((s) => s.url.startsWith('https://auth.example/'));
  assert.equal(tokenRequest?.authorization, null);
});

test('a token endpoint that returns no token is a protocol error', async () => {
  const client = new RegistryClient({ registry: 'reg.example', repository: 'acme/filter', fetch: scriptedFetch(bearerRegistry({ nothing: true }), []) });
  await assert.rejects(client.ping(), (error: unknown) => error instanceof RegistryError && error.kind === 'protocol' && /returned no token/.test(error.message));
});

test('401 without a challenge, or with an unknown scheme, is an auth error that says so', async () => {
  const noChallenge = new RegistryClient({ registry: 'reg.example', repository: 'a', fetch: scriptedFetch(() => new Response(null, { status: 401 }), []) });
  await assert.rejects(noChallenge.ping(), /answered 401 without a usable WWW-Authenticate challenge/);
  const negotiate = new RegistryClient({
    registry: 'reg.example',
    repository: 'a',
    fetch: scriptedFetch(() => new Response(null, { status: 401, headers: { 'www-authenticate': 'Negotiate' } }), []),
  });
  await assert.rejects(negotiate.ping(), /unsupported 'negotiate' auth scheme/);
});

test('a manifest digest that differs from ours is reported, not trusted', async () => {
  const fetch = scriptedFetch(() => new Response(null, { status: 201, headers: { 'docker-content-digest': `sha256:${'0'.repeat(64)}` } }), []);
  const client = new RegistryClient({ registry: 'reg.example', repository: 'a', fetch });
  await assert.rejects(client.putManifest('v1', 'application/vnd.oci.image.manifest.v1+json', Buffer.from('{}')), /stored the manifest as sha256:0+, expected sha256:/);
});

test('a registry error reply is reported with its code and message and the step that failed', async () => {
  const fetch = scriptedFetch((method) => {
    if (method === 'GET') return new Response('{}');
    if (method === 'HEAD') return new Response(null, { status: 404 });
    return Response.json({ errors: [{ code: 'DENIED', message: 'quota exceeded for namespace acme' }] }, { status: 507 });
  }, []);
  const client = new RegistryClient({ registry: 'reg.example', repository: 'acme/filter', fetch });
  const image = buildWasmImage(testWasm('full'), { format: 'artifact', rootIds: ['tollgate'] });
  await assert.rejects(pushImage(client, image, 'v1'), (error: unknown) => {
    assert.ok(error instanceof RegistryError);
    assert.equal(error.kind, 'protocol');
    assert.match(error.message, /^registry reg\.example: starting the upload of sha256:[a-f0-9]{64} failed with HTTP 507 \(DENIED: quota exceeded for namespace acme\)$/);
    return true;
  });
});

test('credentials are not sent to an upload Location on another origin', async () => {
  const sent: Sent[] = [];
  const fetch = scriptedFetch((method, url) => {
    if (url.host === 'reg.example' && sent.at(-1)?.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) {
      return new Response(null, { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } });
    }
    if (method === 'GET') return new Response('{}');
    if (method === 'HEAD') return new Response(null, { status: 404 });
    if (method === 'POST') return new Response(null, { status: 202, headers: { location: 'https://storage.example/upload/1?sig=abc' } });
    return new Response(null, { status: 201 });
  }, sent);
  const client = new RegistryClient({ registry: 'reg.example', repository: 'acme/filter', credentials: { username: 'u', password: 'p' }, fetch });
  await pushImage(client, buildWasmImage(testWasm('cross'), { format: 'artifact', rootIds: ['tollgate'] }), 'v1');
  const storage = sent.filter((s) => s.url.startsWith('https://storage.example/'));
  assert.equal(storage.length, 2);
  for (const s of storage) {
    assert.equal(s.authorization, null);
    assert.match(s.url, /\?sig=abc&digest=sha256%3A/);
  }
  assert.ok(sent.some((s) => s.url.startsWith('https://reg.example/') && s.authorization !== null));
});
