// Finding 7: REST must refuse API path prefixes and hosts the filter can never match (its matching compares them with
// the request's normalized path / authority), and every prefix it accepts must match a request for that very path in
// the real filter.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pathPrefixProblem } from '../../control/path-prefix.js';
import { testApp, type TestApp } from './helpers.js';
import { startHost } from '../filter/harness.js';

interface Problem { type: string; title: string; status: number; detail?: string; errors?: { path: string; message: string }[] }

const ACCEPTED = [
  '/', '/orders', '/orders/', '/v1/a-b_c.d~e', "/!$&'()*+,=:@", '/a%20b', '/%C3%BC%E2%82%AC', '/a%3Fb%23c', '/a%3Bb',
  '/a%25', '/%00%7F', '/.well-known', '/a.../b', '/a/.b', `/${'x'.repeat(1023)}`,
];

/** [prefix, what the refusal must say] */
const REFUSED: [string, RegExp][] = [
  ['', /start with '\/'/],
  ['orders', /start with '\/'/],
  ['//x', /'\/\/'/],
  ['/x//y', /'\/\/'/],
  ['/x%2F', /read as '\/'/],
  ['/x%2f', /uppercase|read as '\/'/],
  ['/x%5C', /read as '\/'/],
  ['/x?y', /query/],
  ['/x#y', /fragment/],
  ['/a/../b', /'\.' or '\.\.' segment/],
  ['/a/./b', /segment/],
  ['/..', /segment/],
  ['/.', /segment/],
  ['/a/..', /segment/],
  ['/a b', /percent-encoded/],
  ['/a\tb', /percent-encoded/],
  ['/a\u0001', /percent-encoded/],
  ['/a\\b', /read(s)? it as '\/'/],
  ['/a;x', /path parameters/],
  ['/a;x/b', /path parameters/],
  ['/%6Frders', /write "o"/],
  ['/%7E', /write "~"/],
  ['/a%2E%2E/b', /write "\."/],
  ['/a%zz', /two hex digits/],
  ['/a%2', /two hex digits/],
  ['/a%', /two hex digits/],
  ['/a%3f', /uppercase hex \('%3F'\)/],
  ['/ü', /"ü" at 1 must be percent-encoded/],
  ['/😀', /"😀" at 1 must be percent-encoded/],
  ['/a"b', /percent-encoded/],
  ['/a<b>', /percent-encoded/],
  [`/${'x'.repeat(1024)}`, /at most 1024/],
];

describe('pathPrefixProblem (the rule)', () => {
  it('accepts prefixes in normalized form', () => {
    for (const p of ACCEPTED) assert.equal(pathPrefixProblem(p), null, JSON.stringify(p));
  });
  it('refuses every spelling the filter would read differently, saying why', () => {
    for (const [p, why] of REFUSED) {
      const problem = pathPrefixProblem(p);
      assert.notEqual(problem, null, JSON.stringify(p));
      assert.match(problem!, why, JSON.stringify(p));
    }
  });
});

describe('REST refuses unmatchable prefixes and hosts', () => {
  let t: TestApp;
  let id: string;
  before(async () => {
    t = await testApp();
    const res = await t.admin('POST', '/v1/apis', { name: 'base', pathPrefix: '/base' });
    assert.equal(res.statusCode, 201, res.body);
    id = res.json<{ id: string }>().id;
  });
  after(async () => t.close());

  const badRequest = (res: { statusCode: number; headers: Record<string, unknown>; json<T>(): T; body: string }, field: string, label: string): void => {
    assert.equal(res.statusCode, 400, `${label}: ${res.body}`);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/, label);
    const p = res.json<Problem>();
    assert.equal(p.type, 'about:blank', label);
    assert.equal(p.title, 'Bad Request', label);
    assert.deepEqual(p.errors?.map((e) => e.path), [field], label);
  };

  it('answers 400 naming pathPrefix on create and on update, and stores nothing', async () => {
    // '' and 'orders' fail the schema's own '^/' pattern; the rest pass it and must be caught by the rule.
    for (const [prefix] of REFUSED) {
      const label = JSON.stringify(prefix);
      badRequest(await t.admin('POST', '/v1/apis', { name: `n${prefix.length}${Math.random()}`, pathPrefix: prefix }), 'body/pathPrefix', `POST ${label}`);
      badRequest(await t.admin('PATCH', `/v1/apis/${id}`, { pathPrefix: prefix }), 'body/pathPrefix', `PATCH ${label}`);
    }
    const listed = (await t.admin('GET', '/v1/apis?limit=500')).json<{ items: { pathPrefix: string }[] }>().items;
    assert.deepEqual(listed.map((a) => a.pathPrefix), ['/base']);
  });

  it('says why in errors[].message and detail', async () => {
    const p = (await t.admin('POST', '/v1/apis', { name: 'dots', pathPrefix: '/a/../admin' })).json<Problem>();
    assert.match(p.errors![0]!.message, /'\.' or '\.\.' segment/);
    assert.match(p.detail!, /^body\/pathPrefix /);
  });

  it('accepts prefixes in normalized form on create and update', async () => {
    for (const [i, prefix] of ACCEPTED.entries()) {
      const res = await t.admin('POST', '/v1/apis', { name: `ok${i}`, pathPrefix: prefix });
      assert.equal(res.statusCode, 201, `${JSON.stringify(prefix)}: ${res.body}`);
      assert.equal(res.json<{ pathPrefix: string }>().pathPrefix, prefix);
    }
    const patched = await t.admin('PATCH', `/v1/apis/${id}`, { pathPrefix: '/base%20v2/' });
    assert.equal(patched.statusCode, 200, patched.body);
  });

  it('refuses hosts with a port, userinfo, trailing dot, empty label or bad hyphen, naming the entry', async () => {
    for (const host of ['shop.example.com.', 'shop.example.com:8080', 'user@shop.example.com', 'a..b', '.a', '-a.com', 'a-.com', '*.', '*.*.a', 'Shop.com', `${'x'.repeat(64)}.com`, `${'a.'.repeat(127)}ab`]) {
      badRequest(await t.admin('POST', '/v1/apis', { name: `h${Math.random()}`, pathPrefix: '/h', hosts: ['ok.example.com', host] }), 'body/hosts/1', host);
      badRequest(await t.admin('PATCH', `/v1/apis/${id}`, { hosts: [host] }), 'body/hosts/0', `PATCH ${host}`);
    }
    for (const host of ['x', 'localhost', 'shop.example.com', '*.a-b.example.com', '10.0.0.1', `${'x'.repeat(63)}.com`]) {
      const res = await t.admin('PATCH', `/v1/apis/${id}`, { hosts: [host] });
      assert.equal(res.statusCode, 200, `${host}: ${res.body}`);
    }
  });
});

describe('every accepted prefix matches its own path in the real filter', () => {
  it('compiles each accepted prefix (through REST) into an API the filter matches for exactly that path', async () => {
    const t = await testApp();
    try {
      for (const [i, prefix] of ACCEPTED.entries()) {
        const res = await t.admin('POST', '/v1/apis', { name: `m${i}`, pathPrefix: prefix });
        assert.equal(res.statusCode, 201, res.body);
      }
      await t.app.distributor.flush();
      const compiled = t.app.distributor.current!.compiled.config;
      assert.equal(compiled.apis.length, ACCEPTED.length);
      // One API at a time: '/' alone would match every request and hide a prefix that never matches.
      const { host } = await startHost({ version: 1, apis: [], plans: [], keys: [] });
      try {
        for (const api of compiled.apis) {
          await host.reconfigure(JSON.stringify({ version: 1, apis: [api], plans: [], keys: [] }));
          const label = JSON.stringify(api.pathPrefix);
          assert.equal((await host.request({ method: 'GET', path: api.pathPrefix })).status, 401, `${label} matches its own path (no key: 401)`);
          assert.equal((await host.request({ method: 'GET', path: `${api.pathPrefix}zz?q=1` })).status, 401, `${label} matches a longer path`);
          if (api.pathPrefix !== '/') assert.equal((await host.request({ method: 'GET', path: '/unrelated' })).status, 200, `${label} leaves other paths alone`);
        }
      } finally {
        await host.close();
      }
    } finally {
      await t.close();
    }
  });

  it('(why) a refused spelling like //orders or /%6Frders would never have matched', async () => {
    const config = { version: 1, apis: [{ id: 'api_a', pathPrefix: '//orders' }, { id: 'api_b', pathPrefix: '/%6Frders' }], plans: [], keys: [] };
    const { host } = await startHost(config);
    try {
      for (const path of ['//orders', '/%6Frders', '/orders']) {
        const r = await host.request({ method: 'GET', path });
        assert.equal(r.status, 200, `${path} passes unmatched`);
      }
    } finally {
      await host.close();
    }
  });
});
