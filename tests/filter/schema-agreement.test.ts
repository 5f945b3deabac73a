// The filter enforces docs/filter-config.md itself; this checks it agrees with the machine-readable contract
// (schemas/filter-config.v1.schema.json): for valid configurations and seeded single-field mutations of them, the
// filter loads exactly those the schema accepts. (Cross-references the schema cannot express — plan indexes, API
// ids, duplicate ids/digests — are mostly left intact by the mutations; when one breaks them, the filter's rejection
// must name that rule.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ConfigRejectedError } from '../../host/index.js';
import { baseConfig, prng, startHost } from './harness.js';

const ajv = new Ajv2020({ strict: false });
const validate = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/filter-config.v1.schema.json', import.meta.url), 'utf8')) as object);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function full(): Record<string, Json> {
  const cfg = baseConfig([{ requests: 5, per: 'minute' }, { requests: 100, per: 'day' }]) as unknown as Record<string, Json>;
  (cfg.apis as Json[])[0] = {
    id: 'api_orders', pathPrefix: '/orders', methods: ['GET', 'POST'], hosts: ['shop.example.com', '*.example.org'],
    operations: [
      { id: 'op_list', method: 'GET', path: '/orders', limits: [{ requests: 10, per: 'hour' }, { requests: 1, per: 'second', id: 'list-burst', shadow: true }] },
      { id: 'op_get', method: 'GET', path: '/orders/{id}', cost: 2 },
      { id: 'op_create', method: 'POST', path: '/orders/', cost: 0 },
      { id: 'op_files', method: 'GET', path: '/orders/{id}/files/*' },
      { id: 'op_odd', method: 'GET', path: "/orders/a%20b/!$&'()*+,=:@-._~" },
    ],
    unknownOperation: 'reject',
  };
  // Limits that compose: API- and operation-scoped, with ids, shadow; plan shadow; both header styles; a shadow header.
  const plan = (cfg.plans as Json[])[0] as Record<string, Json>;
  (plan.limits as Json[]).push(
    { requests: 3, per: 'minute', apiId: 'api_orders', id: 'orders/min' },
    { requests: 2, per: 'minute', apiId: 'api_orders', operationId: 'op_get', shadow: true },
  );
  plan.shadow = false;
  cfg.rateLimitHeaderStyle = 'both';
  cfg.shadowHeader = 'x-tollgate-would-reject';
  cfg.keyLocations = [{ header: 'authorization', prefix: 'Bearer ' }, { query: 'api_key' }];
  cfg.hideCredentials = true;
  cfg.denyUnmatched = false;
  cfg.rateLimitHeaders = true;
  cfg.identityHeaders = { consumer: 'x-c', keyId: '', plan: 'x-p' };
  cfg.usage = { cluster: 'outbound|7070||ctl', authority: 'ctl', path: '/v1/usage/reports', intervalMs: 1000, timeoutMs: 500, tokenHeader: 'authorization', token: 'Bearer t', maxEntries: 100 };
  return cfg;
}

/** Every path to a leaf or container, except those holding cross-references. */
function paths(v: Json, at: Array<string | number> = []): Array<Array<string | number>> {
  const here = at.join('.');
  if (/^plans\.\d+\.apiIds\.\d+$|^keys\.\d+\.3$|^plans\.\d+\.limits\.\d+\.(apiId|operationId)$/.test(here)) return [];
  const out: Array<Array<string | number>> = at.length > 0 ? [at] : [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

const REPLACEMENTS: Json[] = [
  null, true, false, 0, 1, -1, 1.5, 2147483648, 1e3, '', 'x', 'X-Upper', '/p', 'a b', 'minute', 'week', '*.x.com', 'GET', 'get',
  'n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgh', 'n4bQgYhMfWWaL+qgxVrQFaO_TxsrC4Is0V1sFbDwCgg', 'a'.repeat(65), [], {}, [1], { unknown: 1 },
  // Operations: templates (valid and not), modes, costs.
  'reject', 'pass', 1_000_000, 1_000_001, '/orders/{x}', '/orders/*', '/orders/*/x', '/orders//x', '/orders/%2F', '/orders/%2f', '/orders/%20',
  '/orders/%41', '/orders/{}', '/orders/./x', '/orders/..', '/orders/{a}b', '/orders/a b', '/orders?x', '/orders/x;y', '/orders/%',
  `/orders/{${'n'.repeat(65)}}`, '/orders/{a/b}', 'orders', '/orders/\\x',
];

function mutate(cfg: Record<string, Json>, r: () => number): Record<string, Json> {
  const copy = structuredClone(cfg) as Record<string, Json>;
  const all = paths(copy);
  const path = all[Math.floor(r() * all.length)]!;
  let parent: Json = copy;
  for (const k of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[k]!;
  const last = path[path.length - 1]!;
  const container = parent as Record<string | number, Json>;
  const roll = r();
  if (roll < 0.15 && !Array.isArray(container)) delete container[last];
  else if (roll < 0.25 && !Array.isArray(container)) container['extra_' + String(last)] = 1;
  else container[last] = REPLACEMENTS[Math.floor(r() * REPLACEMENTS.length)]!;
  return copy;
}

/** undefined when the filter accepts the configuration, else its rejection log. */
async function filterRejection(cfg: unknown): Promise<string | undefined> {
  try {
    const h = await startHost(cfg, { workers: 1 });
    await h.host.close();
    return undefined;
  } catch (err) {
    if (err instanceof ConfigRejectedError) return [err.message, ...err.logs.map((l) => l.message)].join(' | ');
    throw err;
  }
}

/** Rules beyond the schema (cross-references), which a mutation can still break by renaming an id. */
const CROSS_REFERENCE = /unknown API id|plan index out of range|duplicate API id|duplicate digest|duplicate operation id|can never match|duplicate method and template|duplicate limit id|is not one of the plan's apiIds|is not an operation of API/;

describe('filter configuration checks agree with the JSON schema', () => {
  it('on valid configurations and 300 seeded mutations', async () => {
    const r = prng(0xc0f1);
    const cases: Array<Record<string, Json>> = [full(), baseConfig() as unknown as Record<string, Json>];
    for (let i = 0; i < 300; i++) cases.push(mutate(full(), r));
    let accepted = 0;
    for (const cfg of cases) {
      const schemaOk = validate(cfg);
      const rejection = await filterRejection(cfg);
      const filterOk = rejection === undefined;
      if (schemaOk && !filterOk && CROSS_REFERENCE.test(rejection)) continue;
      assert.equal(filterOk, schemaOk, `schema ${schemaOk ? 'accepts' : 'rejects'} but the filter ${filterOk ? 'accepts' : `rejects (${rejection})`}: ${JSON.stringify(cfg)}\n${JSON.stringify(validate.errors)}`);
      if (schemaOk) accepted++;
    }
    assert.ok(accepted >= 20 && accepted < cases.length - 100, `a useful mix: ${accepted} of ${cases.length} valid`);
  });
});

describe('operation templates: filter and schema agree', () => {
  const TEMPLATES = [
    '/', '/orders', '/orders/', '/orders/{id}', '/orders/{id}/', '/orders/*', '/orders/{id}/items/{item}', '/orders/a%20b',
    "/orders/!$&'()*+,=:@-._~", '/orders/%7E', '/orders/%7B', '/orders/%2F', '/orders/%5C', '/orders/%2f', '/orders/%41',
    '/orders/%2', '/orders/%', '/orders//x', '//orders', '/orders/*/x', '/orders/**', '/orders/a*b', '/orders/*x', '/orders/.',
    '/orders/..', '/orders/.x', '/orders/..x', '/orders/{}', '/orders/{a}b', '/orders/{a', '/orders/{a{b}', '/orders/{a b}',
    `/orders/{${'n'.repeat(64)}}`, `/orders/{${'n'.repeat(65)}}`, '/orders/{ä}', '/orders/ä', '/orders/a b', '/orders/a;b',
    '/orders?x', '/orders#x', '/orders/\\x', '/orders/{x}/*', `/orders/${'a'.repeat(1016)}`, `/orders/${'a'.repeat(1017)}`, 'orders', '',
  ];
  it('for each template alone under pathPrefix "/"', async () => {
    let valid = 0;
    for (const path of TEMPLATES) {
      const cfg = baseConfig() as unknown as Record<string, Json>;
      cfg.apis = [{ id: 'api_orders', pathPrefix: '/', operations: [{ id: 'op', method: 'GET', path }] }];
      const schemaOk = validate(cfg);
      const rejection = await filterRejection(cfg);
      assert.equal(rejection === undefined, schemaOk, `${JSON.stringify(path)}: schema ${schemaOk ? 'accepts' : 'rejects'}, filter ${rejection ?? 'accepts'}`);
      if (!schemaOk) assert.match(rejection!, /apis\[0\]\.operations\[0\]\.path: /);
      if (schemaOk) valid++;
    }
    assert.equal(valid, 18);
  });

  it('unknownOperation only with at least one operation', async () => {
    for (const [api, ok] of [
      [{ id: 'a', pathPrefix: '/', unknownOperation: 'pass' }, false],
      [{ id: 'a', pathPrefix: '/', operations: [], unknownOperation: 'reject' }, false],
      [{ id: 'a', pathPrefix: '/', operations: [] }, true],
      [{ id: 'a', pathPrefix: '/', operations: [{ id: 'o', method: 'GET', path: '/' }], unknownOperation: 'pass' }, true],
      [{ id: 'a', pathPrefix: '/', operations: [{ id: 'o', method: 'GET', path: '/' }], unknownOperation: 'allow' }, false],
    ] as Array<[Json, boolean]>) {
      const cfg = baseConfig() as unknown as Record<string, Json>;
      cfg.apis = [api];
      cfg.plans = [];
      cfg.keys = [];
      assert.equal(validate(cfg), ok, JSON.stringify(api));
      const rejection = await filterRejection(cfg);
      assert.equal(rejection === undefined, ok, `${JSON.stringify(api)}: ${rejection}`);
    }
  });
});
