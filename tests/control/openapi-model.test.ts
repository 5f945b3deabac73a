// The pure parts of the OpenAPI import: path templates in the filter's normalized form (checked against the filter
// configuration schema's own pattern), base paths from server URLs, x-tollgate defaults, and the re-import diff.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { normalizeTemplate, toModel } from '../../control/openapi/model.js';
import { planImport } from '../../control/openapi/diff.js';
import { DocumentRefusedError, DocumentSyntaxError, parseBody, syntaxOf } from '../../control/openapi/document.js';
import type { ImportCurrent } from '../../control/store/repository.js';
import type { Api, ApiOperation } from '../../control/store/types.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/filter-config.v1.schema.json', import.meta.url), 'utf8')) as { $defs: { pathTemplate: { pattern: string } } };
const TEMPLATE = new RegExp(schema.$defs.pathTemplate.pattern);
const ok = { 200: { description: 'ok' } };

describe('normalizeTemplate', () => {
  const cases: [string, string][] = [
    ['/pets', '/pets'],
    ['/pets/{petId}', '/pets/{petId}'],
    ['/pets/{pet-id}/photos/{photo.id}', '/pets/{pet-id}/photos/{photo.id}'],
    ['/x/{na me\u00e9}', '/x/{na_me_}'],
    ['/reports/{id}.{format}', '/reports/{id_format}'],
    ['/v{version}/x', '/{version}/x'],
    ['/files/', '/files/'],
    ['/a//b', '/a/b'],
    ['/caf\u00e9', '/caf%C3%A9'],
    ['/a b', '/a%20b'],
    ['/%7euser/%41', '/~user/A'],
    ['/x%2a', '/x%2A'],
    ['/50%', '/50%25'],
    ["/it's:here@(1)", "/it's:here@(1)"],
    ['/', '/'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} → ${expected}, which the filter's template pattern accepts`, () => {
      assert.equal(normalizeTemplate(input), expected);
      assert.ok(TEMPLATE.test(expected), `${expected} matches the schema pattern`);
    });
  }
  const refused: [string, RegExp][] = [
    ['/a/*', /wildcard/],
    ['/a/../b', /'\.\.'/],
    ['/a/./b', /'\.'/],
    ['/a/{b', /unbalanced/],
    ['/a/{}', /unbalanced or empty/],
    ['/a;v=1', /parameters, a query or a fragment/],
    ['/a?x', /query/],
    ['/a%2Fb', /separator/],
    ['/a\\b', /'\\'/],
    [`/${'x'.repeat(1100)}`, /longer than 1024/],
    ['pets', /start with '\/'/],
  ];
  for (const [input, message] of refused) {
    it(`refuses ${input.slice(0, 40)}`, () => {
      const r = normalizeTemplate(input);
      assert.equal(typeof r, 'object');
      assert.match((r as { problem: string }).problem, message);
    });
  }
  it('a parameter name longer than 64 characters is cut to 64 (the filter bound)', () => {
    const r = normalizeTemplate(`/a/{${'n'.repeat(100)}}`) as string;
    assert.equal(r, `/a/{${'n'.repeat(64)}}`);
    assert.ok(TEMPLATE.test(r));
  });
});

describe('toModel', () => {
  const doc = (servers: unknown, extra: Record<string, unknown> = {}) => ({
    openapi: '3.1.0', info: { title: ' Shop ', version: '7' }, ...(servers === undefined ? {} : { servers }),
    paths: { '/orders': { get: { responses: ok } } }, ...extra,
  });
  const base = (servers: unknown): string => toModel(doc(servers)).pathPrefix;

  it('takes the base path of servers[0]: absolute, relative, protocol-relative, with variables, trailing slash dropped', () => {
    assert.equal(base(undefined), '/');
    assert.equal(base([]), '/');
    assert.equal(base([{ url: 'https://api.example.com' }]), '/');
    assert.equal(base([{ url: 'https://api.example.com/' }]), '/');
    assert.equal(base([{ url: 'https://api.example.com/v1/' }, { url: 'https://other/v2' }]), '/v1');
    assert.equal(base([{ url: '/api/v2' }]), '/api/v2');
    assert.equal(base([{ url: 'v3' }]), '/v3');
    assert.equal(base([{ url: '//cdn.example.com/assets' }]), '/assets');
    assert.equal(base([{ url: '{scheme}://{host}:{port}/{base}', variables: { scheme: { default: 'https' }, host: { default: 'h' }, port: { default: '8443' }, base: { default: 'x/y' } } }]), '/x/y');
    assert.equal(base([{ url: 'https://h/a b' }]), '/a%20b');
  });

  it('the name is info.title trimmed, or the override; the operations carry the base path', () => {
    const m = toModel(doc([{ url: '/v1' }]));
    assert.equal(m.name, 'Shop');
    assert.equal(m.title, ' Shop ');
    assert.deepEqual(m.operations.map((o) => [o.key, o.path]), [['GET /orders', '/v1/orders']]);
    assert.equal(toModel(doc(undefined), { name: 'mine', pathPrefix: '/m/' }).name, 'mine');
    assert.equal(toModel(doc(undefined), { name: 'mine', pathPrefix: '/m/' }).operations[0]!.path, '/m/orders');
  });

  it('operation servers override the document base when they stay under it; outside it they are refused', () => {
    const paths = { '/orders': { get: { servers: [{ url: 'https://h/v1/beta' }], responses: ok }, post: { responses: ok } } };
    const m = toModel({ ...doc([{ url: 'https://h/v1' }]), paths });
    assert.deepEqual(m.operations.map((o) => o.path), ['/v1/beta/orders', '/v1/orders']);
    assert.throws(() => toModel({ ...doc([{ url: 'https://h/v1' }]), paths: { '/o': { get: { servers: [{ url: '/v2' }], responses: ok } } } }),
      (e: unknown) => e instanceof DocumentRefusedError && e.problems[0]!.pointer === '/paths/~1o/get/servers/0/url');
  });

  it('x-tollgate defaults: operation over path item over document; unknownOperation from the document only', () => {
    const m = toModel({
      ...doc(undefined), 'x-tollgate': { cost: 2, visibility: 'internal', unknownOperation: 'pass' },
      paths: {
        '/a': { 'x-tollgate': { cost: 3 }, get: { responses: ok }, put: { 'x-tollgate': { cost: 0, visibility: 'public' }, responses: ok } },
        '/b': { get: { responses: ok } },
      },
    });
    assert.equal(m.unknownOperation, 'pass');
    assert.deepEqual(m.operations.map((o) => [o.key, o.cost, o.visibility]), [['GET /a', 3, 'internal'], ['PUT /a', 0, 'public'], ['GET /b', 2, 'internal']]);
  });

  it('an empty or control-character title without ?name= is refused at /info/title', () => {
    for (const title of ['   ', 'a\nb', 'x'.repeat(129)]) {
      assert.throws(() => toModel({ ...doc(undefined), info: { title, version: '1' } }),
        (e: unknown) => e instanceof DocumentRefusedError && e.problems.some((p) => p.pointer === '/info/title'));
    }
  });

  it('an operationId spelled like another operation\'s "METHOD template" key is refused (they would share an id)', () => {
    const paths = { '/a': { get: { responses: ok } }, '/b': { get: { operationId: 'GET /a', responses: ok } } };
    assert.throws(() => toModel({ ...doc(undefined), paths }),
      (e: unknown) => e instanceof DocumentRefusedError && e.problems.length === 1 && e.problems[0]!.pointer === '/paths/~1b/get/operationId');
  });

  it('more than 4096 operations are refused at /paths', () => {
    const paths = Object.fromEntries(Array.from({ length: 4097 }, (_, i) => [`/r${i}`, { get: { responses: ok } }]));
    assert.throws(() => toModel({ ...doc(undefined), paths }), (e: unknown) => e instanceof DocumentRefusedError && e.problems.some((p) => p.pointer === '/paths'));
  });
});

describe('parseBody and media types', () => {
  it('maps media types (with parameters, any case) to a syntax', () => {
    assert.equal(syntaxOf('application/json; charset=utf-8'), 'json');
    assert.equal(syntaxOf('Application/VND.OAI.OpenAPI+JSON'), 'json');
    assert.equal(syntaxOf('application/vnd.oai.openapi;version=3.1'), 'yaml');
    assert.equal(syntaxOf('text/yaml'), 'yaml');
    assert.equal(syntaxOf('text/plain'), undefined);
    assert.equal(syntaxOf(undefined), undefined);
  });
  it('YAML: duplicate keys, several documents and a bad indentation are syntax errors with a line', () => {
    for (const text of ['a: 1\na: 2\n', 'a: 1\n---\nb: 2\n', 'a:\n  - 1\n - 2\n']) {
      assert.throws(() => parseBody(Buffer.from(text), 'yaml'), (e: unknown) => e instanceof DocumentSyntaxError && /line \d+/.test(e.message));
    }
    assert.deepEqual(parseBody(Buffer.from('\ufeffa: [1, 2]\n'), 'yaml'), { a: [1, 2] });
  });
});

describe('planImport', () => {
  const api: Api = {
    id: 'api_x', name: 'Shop', pathPrefix: '/v1', hosts: [], methods: [], createdAt: 1, updatedAt: 1,
    unknownOperation: 'reject', importedFrom: { title: 'Shop', version: '1', sha256: 'aa' }, operationCount: 2,
  };
  const stored = (key: string, extra: Partial<ApiOperation> = {}): ApiOperation => ({
    id: `op_${key}`, apiId: 'api_x', key, operationId: key, method: 'GET', path: `/v1/${key}`, cost: 1, visibility: 'public', summary: null, position: 0, limits: [], ...extra,
  });
  const model = (ops: { key: string; cost?: number; position: number }[]) => toModel({
    openapi: '3.1.0', info: { title: 'Shop', version: '2' }, servers: [{ url: '/v1' }],
    paths: Object.fromEntries(ops.map((o) => [`/${o.key}`, { get: { operationId: o.key, 'x-tollgate': { cost: o.cost ?? 1 }, responses: ok } }])),
  });
  let n = 0;
  const newOperationId = (): string => `op_new${++n}`;

  it('a new API: every operation added with a fresh id', () => {
    const current: ImportCurrent = { apiId: 'api_new', api: null, operations: [] };
    const p = planImport(current, { model: model([{ key: 'a', position: 0 }]), sha256: 'bb', keepName: false, newOperationId });
    assert.equal(p.diff.api, 'created');
    assert.equal(p.plan.insert[0]!.apiId, 'api_new');
    assert.match(p.plan.insert[0]!.id, /^op_new/);
    assert.deepEqual(p.diff.changes.name, { before: null, after: 'Shop' });
  });

  it('keeps ids by key; reports changed fields, removals, moves; writes nothing for an identical document', () => {
    const current: ImportCurrent = { apiId: 'api_x', api, operations: [stored('a', { position: 0 }), stored('b', { position: 1 }), stored('c', { position: 2 })] };
    const p = planImport(current, { model: model([{ key: 'c', position: 0 }, { key: 'a', cost: 4, position: 1 }, { key: 'd', position: 2 }]), sha256: 'bb', keepName: false, newOperationId });
    assert.deepEqual(p.operations.map((o) => o.id), ['op_c', 'op_a', p.plan.insert[0]!.id]);
    assert.deepEqual(p.diff.operations.changed, [{ id: 'op_a', key: 'a', before: { cost: 1 }, after: { cost: 4 } }]);
    assert.deepEqual(p.plan.remove, ['op_b']);
    assert.equal(p.diff.operations.moved, 1);
    assert.deepEqual(p.plan.update.map((o) => o.id).sort(), ['op_a', 'op_c']);
    assert.equal(p.plan.writeApi, true);

    const same: ImportCurrent = { apiId: 'api_x', api: { ...api, importedFrom: { title: 'Shop', version: '2', sha256: 'bb' } }, operations: [stored('a', { position: 0 })] };
    const q = planImport(same, { model: model([{ key: 'a', position: 0 }]), sha256: 'bb', keepName: false, newOperationId });
    assert.equal(q.diff.api, 'unchanged');
    assert.deepEqual([q.plan.writeApi, q.plan.insert, q.plan.update, q.plan.remove], [false, [], [], []]);
  });

  it('keepName keeps the stored name; otherwise a different title renames', () => {
    const current: ImportCurrent = { apiId: 'api_x', api: { ...api, name: 'hand-made' }, operations: [] };
    assert.equal(planImport(current, { model: model([]), sha256: 'bb', keepName: true, newOperationId }).plan.api.name, 'hand-made');
    assert.equal(planImport(current, { model: model([]), sha256: 'bb', keepName: false, newOperationId }).plan.api.name, 'Shop');
  });
});
