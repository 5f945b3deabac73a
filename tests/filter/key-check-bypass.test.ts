// Ways around the key check, each closed through the real filter on the Envoy-like host: non-origin-form targets,
// methods an API does not list, other spellings of a restricted host, identity headers spelled with '_', `;` path
// parameters, and the WWW-Authenticate challenge of 401s.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ConfigRejectedError } from '../../host/index.js';
import type { PluginHost } from '../../host/runtime/plugin-host.js';
import type { HeaderPairs } from '../../host/abi/pairs.js';
import { Control, USAGE_CLUSTER } from './control-stub.js';
import { baseConfig, digest, header, headerAll, startHost, type Harness, type TestConfig } from './harness.js';

function problem(body: Uint8Array): { type: string; status: number } {
  return JSON.parse(new TextDecoder().decode(body)) as { type: string; status: number };
}

/**
 * Rewrites the request header map just before the filter reads it (what Envoy hands over for CONNECT, a missing
 * Host…), independently of how the host spells such requests. Returns the map as the filter left it (last request).
 */
function editRequestHeaders(h: Harness, edit: ((pairs: HeaderPairs) => HeaderPairs) | undefined): () => HeaderPairs {
  let last: HeaderPairs = [];
  (h.host as PluginHost).setCallbackProbe(edit === undefined ? undefined : (vm, name) => {
    if (name !== 'proxy_on_request_headers') return;
    const slot = vm.streamOf(vm.effective())?.maps[0];
    if (slot === undefined) return;
    // In place: the host forwards the very array the filter's set_header_map_pairs rewrites.
    slot.pairs.splice(0, slot.pairs.length, ...edit([...slot.pairs]));
    last = slot.pairs;
  });
  return () => last;
}

const without = (name: string) => (pairs: HeaderPairs): HeaderPairs => pairs.filter(([k]) => k !== name);
const emptied = (name: string) => (pairs: HeaderPairs): HeaderPairs => pairs.map(([k, v]) => [k, k === name ? '' : v]);

function assertBadRequest(r: { status: number; body: Uint8Array; upstreamRequest?: unknown }, what: string): void {
  assert.equal(r.status, 400, what);
  assert.equal(problem(r.body).type, 'urn:tollgate:problem:bad-request', what);
  assert.equal(r.upstreamRequest, undefined, what);
}

describe('request-target forms (only origin-form can be matched)', () => {
  it('400 for absolute-form, empty, missing or asterisk :path by default, key or not', async () => {
    const h = await startHost(baseConfig());
    try {
      for (const path of ['http://x/orders', 'https://shop.example.com/orders/1?api_key=key-alpha', 'orders', '*', '?api_key=key-alpha']) {
        assertBadRequest(await h.host.request({ method: 'GET', path }), path);
        assertBadRequest(await h.host.request({ method: 'GET', path, headers: { 'x-api-key': 'key-alpha' } }), path);
      }
      assertBadRequest(await h.host.request({ method: 'OPTIONS', path: '*' }), 'OPTIONS * without the opt-out');
      editRequestHeaders(h, without(':path'));
      assertBadRequest(await h.host.request({ method: 'GET', path: '/orders' }), 'GET with no :path');
      assertBadRequest(await h.host.request({ method: 'CONNECT', path: '/', authority: 'shop.example.com:443' }), 'CONNECT without the opt-out');
      editRequestHeaders(h, emptied(':path'));
      assertBadRequest(await h.host.request({ method: 'GET', path: '/orders' }), 'GET with an empty :path');
      editRequestHeaders(h, undefined);
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('passPathForms lets OPTIONS * and CONNECT through untouched (identity headers still stripped), nothing else', async () => {
    const cfg = baseConfig();
    cfg.passPathForms = ['asterisk', 'authority'];
    cfg.denyUnmatched = true;
    const h = await startHost(cfg);
    try {
      const forged = { 'x-tollgate-consumer': 'root', 'x_tollgate_plan': 'gold', 'x-other': 'kept' };
      const star = await h.host.request({ method: 'OPTIONS', path: '*', headers: forged });
      assert.equal(star.status, 200);
      assert.equal(star.upstreamRequest?.path, '*');
      assert.equal(header(star.upstreamRequest!.headers, 'x-tollgate-consumer'), undefined);
      assert.equal(header(star.upstreamRequest!.headers, 'x_tollgate_plan'), undefined);
      assert.equal(header(star.upstreamRequest!.headers, 'x-other'), 'kept');
      assertBadRequest(await h.host.request({ method: 'GET', path: '*' }), '"*" is only OPTIONS\'s');
      assertBadRequest(await h.host.request({ method: 'GET', path: 'http://x/orders' }), 'absolute-form is never opted out');
      const seen = editRequestHeaders(h, without(':path'));
      const connect = await h.host.request({ method: 'CONNECT', path: '/', authority: 'db.internal:5432', headers: forged });
      // What follows the filter (the router) is the host's business; the filter itself must not have answered.
      assert.ok(![400, 401, 403].includes(connect.status), String(connect.status));
      assert.ok(!headerAll(connect.headers, 'content-type').includes('application/problem+json'));
      assert.equal(header(seen(), 'x-tollgate-consumer'), undefined);
      assert.equal(header(seen(), 'x_tollgate_plan'), undefined);
      assert.equal(header(seen(), 'x-other'), 'kept');
      assert.equal(header(seen(), ':authority'), 'db.internal:5432');
      assertBadRequest(await h.host.request({ method: 'GET', path: '/' }), 'a missing :path is CONNECT\'s only');
      editRequestHeaders(h, undefined);
    } finally {
      await h.host.close();
    }
    const only = baseConfig();
    only.passPathForms = ['asterisk'];
    const h2 = await startHost(only);
    try {
      assert.equal((await h2.host.request({ method: 'OPTIONS', path: '*' })).status, 200);
      assertBadRequest(await h2.host.request({ method: 'CONNECT', path: 'db.internal:5432' }), 'CONNECT with a :path that is not origin-form');
      editRequestHeaders(h2, without(':path'));
      assertBadRequest(await h2.host.request({ method: 'CONNECT', path: '/', authority: 'db.internal:5432' }), 'authority not opted out');
    } finally {
      await h2.host.close();
    }
  });

  it('rejects an unknown passPathForms entry, naming the field', async () => {
    const cfg = baseConfig();
    cfg.passPathForms = ['asterisk', 'absolute'];
    await assert.rejects(startHost(cfg), (err: Error & { logs?: Array<{ message: string }> }) =>
      (err.logs ?? []).some((l) => l.message.includes('passPathForms[1]: must be one of asterisk, authority')));
  });

  it('the filter accepts exactly the passPathForms values the JSON schema accepts', async () => {
    const validate = new Ajv2020({ strict: false })
      .compile(JSON.parse(readFileSync(new URL('../../schemas/filter-config.v1.schema.json', import.meta.url), 'utf8')) as object);
    const values: unknown[] = [[], ['asterisk'], ['authority'], ['authority', 'asterisk'], ['asterisk', 'asterisk'],
      ['absolute'], ['Asterisk'], 'asterisk', [1], [null], {}, null, true];
    for (const value of values) {
      const cfg = baseConfig();
      cfg.passPathForms = value;
      let filterOk = true;
      try {
        await (await startHost(cfg, { workers: 1 })).host.close();
      } catch (err) {
        assert.ok(err instanceof ConfigRejectedError);
        filterOk = false;
      }
      assert.equal(filterOk, validate(cfg), JSON.stringify(value));
    }
  });
});

/** Requests of one (key, API, outcome) the stand-in control service accepted, each batch once. */
function total(control: Control, keyId: string, apiId: string, outcome: string): number {
  return control.accepted().flatMap((r) => r.entries)
    .filter((e) => e.keyId === keyId && e.apiId === apiId && e.outcome === outcome).reduce((a, e) => a + e.count, 0);
}

describe('methods an API does not list', () => {
  let reports: Control;
  before(async () => { reports = new Control(); await reports.listen(); });
  after(async () => reports.close());

  function config(): TestConfig {
    const cfg = baseConfig([{ requests: 2, per: 'minute' }]);
    cfg.apis = [
      { id: 'api_orders', pathPrefix: '/orders', methods: ['GET', 'POST'] },
      { id: 'api_read', pathPrefix: '/items', methods: ['GET', 'HEAD'] },
      { id: 'api_write', pathPrefix: '/items', methods: ['POST', 'GET'] },
    ];
    cfg.plans = [
      { id: 'pln_gold', limits: [{ requests: 2, per: 'minute' }], apiIds: ['api_orders', 'api_read'] },
      { id: 'pln_none', limits: [], apiIds: [] },
      { id: 'pln_write', limits: [], apiIds: ['api_write'] },
    ];
    cfg.keys.push([digest('key-none'), 'key_none', 'con_none', 1]);
    cfg.keys.push([digest('key-write'), 'key_write', 'con_write', 2]);
    cfg.usage = { cluster: USAGE_CLUSTER, authority: 'ctl.local', path: '/v1/usage/reports', intervalMs: 1000, token: 'Bearer t' };
    return cfg;
  }

  it('still needs the key (401), then 403 without the API, then 405 with Allow; no quota used; counted as forbidden', async () => {
    const h = await startHost(config(), { clusters: reports.clusters() });
    try {
      const none = await h.host.request({ method: 'DELETE', path: '/orders/1' });
      assert.equal(none.status, 401, 'DELETE on a GET/POST API passed without a key');
      assert.equal(problem(none.body).type, 'urn:tollgate:problem:missing-key');
      assert.equal((await h.host.request({ method: 'PUT', path: '/orders/1', headers: { 'x-api-key': 'nope' } })).status, 401);
      const forbidden = await h.host.request({ method: 'DELETE', path: '/orders/1', headers: { 'x-api-key': 'key-none' } });
      assert.equal(forbidden.status, 403);
      assert.equal(problem(forbidden.body).type, 'urn:tollgate:problem:forbidden');
      assert.equal(header(forbidden.headers, 'allow'), undefined);
      for (let i = 0; i < 3; i++) {
        const r = await h.host.request({ method: 'DELETE', path: '/orders/1', headers: { 'x-api-key': 'key-alpha' } });
        assert.equal(r.status, 405);
        assert.deepEqual(problem(r.body), { type: 'urn:tollgate:problem:method-not-allowed', title: 'Method not allowed for this API', status: 405 });
        assert.deepEqual(headerAll(r.headers, 'allow'), ['GET, POST']);
        assert.equal(r.upstreamRequest, undefined);
      }
      const ok = await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(ok.status, 200);
      assert.equal(header(ok.headers, 'ratelimit-remaining'), '1', '405s consumed no quota');
      await h.host.advance(1000);
      await h.host.settle();
      await h.host.advance(1000);
      await h.host.settle();
      assert.equal(total(reports, 'key_alpha', 'api_orders', 'rejected_forbidden'), 3);
      assert.equal(total(reports, 'key_none', 'api_orders', 'rejected_forbidden'), 1);
      assert.equal(total(reports, '', 'api_orders', 'rejected_auth'), 2);
      await h.host.advance(5000);
      assert.equal(h.host.metrics().find((m) => m.name === 'tollgate_denied_forbidden')?.value, 4);
    } finally {
      await h.host.close();
    }
  });

  it('two APIs on one prefix split by method keep working; Allow is their union in config order, once each', async () => {
    const cfg = config();
    delete cfg.usage;
    const h = await startHost(cfg);
    try {
      const read = (method: string, key: string) => h.host.request({ method, path: '/items/9', headers: { 'x-api-key': key } });
      assert.equal((await read('GET', 'key-alpha')).status, 200, 'GET → api_read, in the gold plan');
      assert.equal((await read('HEAD', 'key-alpha')).status, 200);
      assert.equal((await read('POST', 'key-alpha')).status, 403, 'POST → api_write, not in the gold plan');
      assert.equal((await read('POST', 'key-write')).status, 200);
      const del = await read('DELETE', 'key-write');
      assert.equal(del.status, 405, 'the write plan includes one of the APIs on this path');
      assert.deepEqual(headerAll(del.headers, 'allow'), ['GET, HEAD, POST']);
      assert.equal((await read('DELETE', 'key-none')).status, 403);
      assert.equal((await h.host.request({ method: 'DELETE', path: '/items/9' })).status, 401);
    } finally {
      await h.host.close();
    }
  });

  it('denyUnmatched: a wrong method on a protected path is 405 for a valid key, not an unmatched 403', async () => {
    const cfg = baseConfig();
    cfg.denyUnmatched = true;
    const h = await startHost(cfg);
    try {
      assert.equal((await h.host.request({ method: 'DELETE', path: '/orders/1' })).status, 401);
      const r = await h.host.request({ method: 'DELETE', path: '/orders/1', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(r.status, 405);
      assert.equal(header(r.headers, 'allow'), 'GET, POST');
    } finally {
      await h.host.close();
    }
  });
});

describe('host spellings on a host-restricted API', () => {
  function config(catchAll: boolean): TestConfig {
    const cfg = baseConfig();
    cfg.apis = [
      { id: 'api_shop', pathPrefix: '/orders', hosts: ['shop.example.com', '*.example.org'] },
      ...(catchAll ? [{ id: 'api_public', pathPrefix: '/' }] : []),
    ];
    cfg.plans = [
      { id: 'pln_gold', limits: [], apiIds: ['api_shop'] },
      { id: 'pln_public', limits: [], apiIds: catchAll ? ['api_public'] : [] },
    ];
    cfg.keys.push([digest('key-public'), 'key_public', 'con_p', 1]);
    return cfg;
  }

  it('trailing dot, port, case and userinfo are the same host: the key is required', async () => {
    const h = await startHost(config(false));
    try {
      for (const authority of ['shop.example.com', 'shop.example.com.', 'SHOP.Example.COM:8443', 'shop.example.com.:443',
        'user@shop.example.com', 'user:pw@Shop.Example.Com.:80', 'a@b@shop.example.com', 'x.EXAMPLE.org.']) {
        const r = await h.host.request({ method: 'GET', path: '/orders/1', authority });
        assert.equal(r.status, 401, authority);
        const ok = await h.host.request({ method: 'GET', path: '/orders/1', authority, headers: { 'x-api-key': 'key-alpha' } });
        assert.equal(ok.status, 200, authority);
        assert.equal(ok.upstreamRequest?.authority, authority, 'the upstream gets :authority as sent');
      }
      // Another, well-formed host is another site: not this API's business.
      for (const authority of ['other.example.com', 'example.org', '[::1]:8080', '10.0.0.5']) {
        assert.equal((await h.host.request({ method: 'GET', path: '/orders/1', authority })).status, 200, authority);
      }
    } finally {
      await h.host.close();
    }
  });

  it('no usable host on a restricted path is 400, even when a catch-all API would match; other paths are unaffected', async () => {
    for (const catchAll of [false, true]) {
      const h = await startHost(config(catchAll));
      try {
        for (const authority of ['', ':443', 'shop.example.com..', '.shop.example.com', 'shop example.com', 'shop.example.com/x',
          'sh%6Fp.example.com', 'shop.example.com:x', 'x'.repeat(1025), 'shop.exämple.com', '[::1', 'user@']) {
          const r = await h.host.request({ method: 'GET', path: '/orders/1', authority, headers: { 'x-api-key': 'key-public' } });
          assertBadRequest(r, `${JSON.stringify(authority.slice(0, 30))} catchAll=${catchAll}`);
        }
        editRequestHeaders(h, without(':authority'));
        assertBadRequest(await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'key-public' } }), 'no :authority');
        const elsewhere = await h.host.request({ method: 'GET', path: '/public/x', headers: { 'x-api-key': 'key-public' } });
        assert.equal(elsewhere.status, 200, 'a path no host-restricted API covers still passes or matches');
        editRequestHeaders(h, undefined);
      } finally {
        await h.host.close();
      }
    }
  });
});

describe('identity headers spelled with underscores', () => {
  it('are stripped on allowed and on unmatched requests; other underscore headers are kept', async () => {
    const cfg = baseConfig();
    cfg.identityHeaders = { consumer: 'x-tollgate-consumer', keyId: 'x-tollgate-key-id', plan: 'x_custom_plan' };
    const h = await startHost(cfg);
    try {
      const forged: Array<[string, string]> = [['x_tollgate_consumer', 'root'], ['x_tollgate-key_id', 'k'], ['x-custom-plan', 'gold'],
        ['x_other_header', 'kept'], ['x_tollgate_consumerx', 'kept']];
      const ok = await h.host.request({ method: 'GET', path: '/orders/1', headers: [['x-api-key', 'key-alpha'], ...forged] });
      assert.equal(ok.status, 200);
      const up = ok.upstreamRequest!.headers;
      assert.equal(header(up, 'x_tollgate_consumer'), undefined);
      assert.equal(header(up, 'x_tollgate-key_id'), undefined);
      assert.equal(header(up, 'x-custom-plan'), undefined);
      assert.deepEqual(headerAll(up, 'x-tollgate-consumer'), ['con_acme']);
      assert.deepEqual(headerAll(up, 'x_custom_plan'), ['pln_gold']);
      assert.equal(header(up, 'x_other_header'), 'kept');
      assert.equal(header(up, 'x_tollgate_consumerx'), 'kept');
      const open = await h.host.request({ method: 'GET', path: '/public', headers: forged });
      assert.equal(open.status, 200);
      const upOpen = open.upstreamRequest!.headers;
      for (const [name] of forged.slice(0, 3)) assert.equal(header(upOpen, name), undefined, name);
      assert.equal(header(upOpen, 'x_other_header'), 'kept');
    } finally {
      await h.host.close();
    }
  });
});

describe('path parameters', () => {
  it('`;params` are dropped for matching (the upstream still gets the path as sent); `..;` is a dot segment', async () => {
    const cfg = baseConfig();
    (cfg.apis[0] as { pathPrefix: string }).pathPrefix = '/orders/';
    const h = await startHost(cfg);
    try {
      for (const path of ['/orders;jsessionid=1/1', '/;/orders/1', '/orders/;x=1/1', '/orders;a=%2e%2e/1', '/%6Frders;v=2/1']) {
        assert.equal((await h.host.request({ method: 'GET', path })).status, 401, `${path} is /orders/…: a key is required`);
      }
      const ok = await h.host.request({ method: 'GET', path: '/orders;jsessionid=1/1?x=1', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.upstreamRequest?.path, '/orders;jsessionid=1/1?x=1');
      for (const path of ['/..;/admin', '/orders/..;/admin', '/orders/.;x/1', '/public/%2e%2e;/admin', '/orders;x%2F..%2Fadmin']) {
        assertBadRequest(await h.host.request({ method: 'GET', path, headers: { 'x-api-key': 'key-alpha' } }), path);
      }
      // An escaped ';' is data for those servers too: /orders%3Bx is not /orders/.
      assert.equal((await h.host.request({ method: 'GET', path: '/orders%3Bx/1' })).status, 200);
    } finally {
      await h.host.close();
    }
  });
});

describe('WWW-Authenticate on 401', () => {
  // [keyLocations, expected challenge, Authorization scheme those locations read]
  const cases: Array<[unknown[] | undefined, string, string]> = [
    [undefined, 'APIKey realm="tollgate", in="header", name="x-api-key"', 'Bearer '],
    [[{ header: 'authorization', prefix: 'Bearer ' }, { query: 'k' }], 'Bearer realm="tollgate"', 'Bearer '],
    [[{ header: 'authorization', prefix: 'bearer ' }], 'Bearer realm="tollgate"', 'Bearer '],
    [[{ header: 'authorization', prefix: 'Token ' }], 'APIKey realm="tollgate", in="header", name="authorization"', 'Token '],
    [[{ query: 'k"ey\\\u00e9' }, { header: 'x-api-key' }], 'APIKey realm="tollgate", in="query", name="k\\"ey\\\\%C3%A9"', 'Bearer '],
  ];
  for (const [locations, expected, scheme] of cases) {
    it(`${expected}`, async () => {
      const cfg = baseConfig();
      if (locations !== undefined) cfg.keyLocations = locations;
      const h = await startHost(cfg);
      try {
        const missing = await h.host.request({ method: 'GET', path: '/orders' });
        assert.equal(missing.status, 401);
        assert.deepEqual(headerAll(missing.headers, 'www-authenticate'), [expected]);
        assert.deepEqual(headerAll(missing.headers, 'content-type'), ['application/problem+json']);
        const invalid = await h.host.request({ method: 'GET', path: '/orders?k=nope&api_key=nope', headers: { 'x-api-key': 'nope', authorization: `${scheme}nope` } });
        assert.equal(invalid.status, 401);
        assert.deepEqual(headerAll(invalid.headers, 'www-authenticate'), [expected]);
        const forbidden = await h.host.request({ method: 'GET', path: '/admin?k=key-alpha&api_key=key-alpha', headers: { 'x-api-key': 'key-alpha', authorization: `${scheme}key-alpha` } });
        assert.equal(forbidden.status, 403);
        assert.equal(header(forbidden.headers, 'www-authenticate'), undefined, 'only 401s carry a challenge');
      } finally {
        await h.host.close();
      }
    });
  }
});
