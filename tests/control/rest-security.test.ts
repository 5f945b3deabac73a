// Walks the real route table and the OpenAPI document: every route but the documented open ones refuses a request
// without the right token, the two lists agree, and malformed requests of every kind leave as problem+json.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import { ADMIN, REPORT, seed, testApp, type TestApp } from './helpers.js';

/** Open without a token (docs/control.md). */
const OPEN = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json', ...consoleRoutes()]);
/** The web console's static files (docs/console.md): open, and not part of the API the OpenAPI document describes. */
function consoleRoutes(): string[] {
  return ['/console', '/console/', '/console/*'];
}
/** Called by the proxies with the report token. */
const REPORT_ROUTES = new Set(['/v1/usage/reports', '/v1/distribution/wasmplugin', '/v1/distribution/acks', '/v1/keyfeed/snapshot', '/v1/keyfeed/deltas']);

interface Route { method: string; path: string }
interface Operation { security?: Record<string, string[]>[]; responses?: Record<string, unknown>; parameters?: { in: string; name: string }[] }
interface OpenApiDoc { openapi: string; security: Record<string, string[]>[]; paths: Record<string, Record<string, Operation>>; components?: Record<string, Record<string, unknown>> }

/** Parses fastify's printRoutes({ commonPrefix: false }) tree into method + full path pairs. */
function routeTable(tree: string): Route[] {
  const routes: Route[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (\S+) \(([A-Z, ]+)\)$/.exec(line);
    if (m === null) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    for (const method of m[3]!.split(', ')) routes.push({ method, path: stack.join('') });
  }
  return routes;
}

// A parameter is a whole segment (`/:id`); `/v1/keys:import` is a literal colon.
const toOpenApiPath = (path: string): string => path.replace(/\/:(\w+)/g, '/{$1}');
const concrete = (path: string): string => path.replace(/\/:(\w+)/g, '/zz_probe0001');

describe('every route is guarded', () => {
  let t: TestApp;
  let routes: Route[];
  before(async () => {
    t = await testApp();
    routes = routeTable(t.app.printRoutes({ commonPrefix: false }));
  });
  after(async () => t.close());

  it('finds the whole route table', () => {
    // A parse that found nothing would make every other test here pass vacuously.
    assert.ok(routes.length >= 30, `only ${routes.length} routes parsed`);
    for (const must of ['POST /v1/apis', 'DELETE /v1/plans/:id', 'POST /v1/keys/:id/rotate', 'POST /v1/usage/reports', 'GET /metrics']) {
      assert.ok(routes.some((r) => `${r.method} ${r.path}` === must), `${must} in the route table`);
    }
  });

  it('answers 401 problem+json without a token on every route but the open ones', async () => {
    for (const { method, path } of routes) {
      const res = await t.app.inject({ method: method as 'GET', url: concrete(path) });
      const label = `${method} ${path}`;
      if (OPEN.has(path)) {
        assert.notEqual(res.statusCode, 401, `${label} is open`);
        continue;
      }
      assert.equal(res.statusCode, 401, `${label} without a token`);
      assert.match(String(res.headers['www-authenticate']), /^Bearer/, label);
      if (method !== 'HEAD') assert.match(String(res.headers['content-type']), /^application\/problem\+json/, label);
    }
  });

  it('refuses the other token, a wrong token and non-Bearer schemes', async () => {
    for (const { method, path } of routes) {
      if (OPEN.has(path)) continue;
      const label = `${method} ${path}`;
      const right = REPORT_ROUTES.has(path) ? REPORT : ADMIN;
      const other = REPORT_ROUTES.has(path) ? ADMIN : REPORT;
      for (const authorization of [`Bearer ${other}`, `Bearer ${right}x`, `Bearer ${right.slice(0, -1)}`, `Basic ${Buffer.from(`u:${right}`).toString('base64')}`, right, 'Bearer']) {
        const res = await t.app.inject({ method: method as 'GET', url: concrete(path), headers: { authorization } });
        assert.equal(res.statusCode, 401, `${label} with '${authorization.slice(0, 12)}…'`);
      }
    }
  });

  it('lets the right token past the guard on every route', async () => {
    for (const { method, path } of routes) {
      if (OPEN.has(path) || path === '/v1/distribution/wasmplugin') continue; // the long poll would wait 30 s
      const token = REPORT_ROUTES.has(path) ? REPORT : ADMIN;
      const res = await t.app.inject({ method: method as 'GET', url: concrete(path), headers: { authorization: `Bearer ${token}` } });
      assert.notEqual(res.statusCode, 401, `${method} ${path} with its token`);
    }
  });
});

describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: OpenApiDoc;
  let routes: Route[];
  before(async () => {
    t = await testApp();
    routes = routeTable(t.app.printRoutes({ commonPrefix: false }));
    doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDoc>();
  });
  after(async () => t.close());

  it('describes exactly the routes the service has (HEAD and the document itself aside)', () => {
    const served = new Set(routes.filter((r) => r.method !== 'HEAD' && r.path !== '/openapi.json' && !consoleRoutes().includes(r.path)).map((r) => `${r.method} ${toOpenApiPath(r.path)}`));
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
    assert.deepEqual([...documented].sort(), [...served].sort());
  });

  it('states the security each route really enforces', () => {
    assert.deepEqual(doc.security, [{ admin: [] }]);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const effective: Record<string, string[]>[] = op.security ?? doc.security;
        const expected = OPEN.has(path) ? [] : REPORT_ROUTES.has(path) ? [{ report: [] }] : [{ admin: [] }];
        assert.deepEqual(effective, expected, `${method} ${path}`);
      }
    }
  });

  it('is well formed: 3.0.x, responses on every operation, path templates declared, schemas compile, refs resolve', () => {
    assert.match(doc.openapi, /^3\.0\.\d+$/);
    const ajv = new Ajv({ strict: false, validateFormats: false });
    const json = JSON.stringify(doc);
    for (const ref of json.matchAll(/"\$ref":"#\/components\/(\w+)\/([^"]+)"/g)) {
      assert.ok(doc.components?.[ref[1]!]?.[ref[2]!] !== undefined, `${ref[0]} resolves`);
    }
    for (const [path, ops] of Object.entries(doc.paths)) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        assert.ok(op.responses !== undefined && Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        assert.deepEqual(declared.sort(), templated.sort(), `${method} ${path} path parameters`);
        for (const [status, response] of Object.entries(op.responses)) {
          const content = (response as { content?: Record<string, { schema?: object }> }).content ?? {};
          for (const media of Object.values(content)) {
            if (media.schema !== undefined && !JSON.stringify(media.schema).includes('$ref')) ajv.compile(media.schema);
          }
          assert.match(status, /^[1-5]\d\d$/, `${method} ${path} status ${status}`);
        }
      }
    }
  });
});

describe('malformed requests', () => {
  let t: TestApp;
  const auth = { authorization: `Bearer ${ADMIN}` };
  before(async () => { t = await testApp(); });
  after(async () => t.close());

  const problem = (res: { statusCode: number; headers: Record<string, unknown>; json<T>(): T }, status: number, label: string): void => {
    assert.equal(res.statusCode, status, label);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/, label);
    const body = res.json<{ type: string; title: string; status: number }>();
    assert.equal(body.status, status, label);
    assert.equal(typeof body.title, 'string', label);
    assert.equal(typeof body.type, 'string', label);
  };

  it('415 for a body that is not JSON, on the admin API and the report endpoint', async () => {
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      problem(await t.app.inject({ method: 'POST', url: '/v1/apis', headers: { ...auth, 'content-type': type }, payload: 'name=a' }), 415, type);
      problem(await t.app.inject({ method: 'POST', url: '/v1/usage/reports', headers: { authorization: `Bearer ${REPORT}`, 'content-type': type }, payload: 'x' }), 415, `report ${type}`);
    }
  });

  it('400 for JSON that does not parse, including prototype poisoning', async () => {
    for (const payload of ['{bad', '{"name":"a",', '{"__proto__":{"admin":true},"name":"a","pathPrefix":"/a"}', '{"constructor":{"prototype":{"x":1}},"name":"a","pathPrefix":"/a"}']) {
      problem(await t.app.inject({ method: 'POST', url: '/v1/apis', headers: { ...auth, 'content-type': 'application/json' }, payload }), 400, payload);
    }
    assert.equal(({} as Record<string, unknown>).admin, undefined);
  });

  it('413 for an oversized body, and nothing stored', async () => {
    const payload = JSON.stringify({ name: 'big', pathPrefix: `/${'a'.repeat(2 * 1024 * 1024)}` });
    problem(await t.app.inject({ method: 'POST', url: '/v1/apis', headers: { ...auth, 'content-type': 'application/json' }, payload }), 413, 'admin');
    const report = JSON.stringify({ version: 1, pad: 'x'.repeat(5 * 1024 * 1024) });
    problem(await t.app.inject({ method: 'POST', url: '/v1/usage/reports', headers: { authorization: `Bearer ${REPORT}`, 'content-type': 'application/json' }, payload: report }), 413, 'report');
    assert.equal((await t.admin('GET', '/v1/apis')).json<{ items: unknown[] }>().items.length, 0);
  });

  it('400 for JSON values of the wrong type instead of coercing them', async () => {
    const cases: [string, unknown][] = [
      ['/v1/apis', { name: 123, pathPrefix: '/a' }],
      ['/v1/apis', { name: true, pathPrefix: '/a' }],
      ['/v1/apis', { name: 'a', pathPrefix: '/a', hosts: 'a.example.com' }],
      ['/v1/plans', { name: 'p', limits: [{ requests: '5', per: 'minute' }], apiIds: [] }],
      ['/v1/plans', { name: 'p', limits: [], apiIds: 'api_x' }],
      ['/v1/consumers', { name: null }],
    ];
    for (const [url, body] of cases) problem(await t.admin('POST', url, body), 400, `${url} ${JSON.stringify(body)}`);
    const s = await seed(t);
    problem(await t.admin('POST', `/v1/keys/${s.keyId}/rotate`, { gracePeriodSeconds: '60' }), 400, 'grace as a string');
    problem(await t.admin('PATCH', `/v1/apis/${s.apiId}`, { methods: 'GET' }), 400, 'methods as a string');
    assert.equal((await t.admin('GET', '/v1/apis')).json<{ items: unknown[] }>().items.length, 1);
  });

  it('still coerces query strings (they are text)', async () => {
    assert.equal((await t.admin('GET', '/v1/apis?limit=2')).statusCode, 200);
    problem(await t.admin('GET', '/v1/apis?limit=two'), 400, 'limit=two');
  });

  it('404 problem+json for unknown routes and methods, with or without a token', async () => {
    for (const [method, url] of [['GET', '/v1/nothing'], ['PUT', '/v1/apis'], ['GET', '/v2/apis'], ['DELETE', '/v1/keys/key_x']] as const) {
      problem(await t.app.inject({ method, url }), 404, `${method} ${url}`);
      problem(await t.app.inject({ method, url, headers: auth }), 404, `${method} ${url} with token`);
    }
  });
});
