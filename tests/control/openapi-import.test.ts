// POST /v1/apis:import and GET /v1/apis/{id}/operations over REST, on the run's store backend (SQLite, or PostgreSQL
// with TOLLGATE_TEST_STORE=postgres): OpenAPI 3.0 JSON and 3.1 YAML, base paths, re-imports that keep ids, dry runs,
// refusals that change nothing, and a 80-operation document (tests/fixtures/openapi/github-subset.yaml).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { stringify } from 'yaml';
import { ADMIN, sqliteOnly, testApp, type TestApp } from './helpers.js';

const filterSchema = JSON.parse(readFileSync(new URL('../../schemas/filter-config.v1.schema.json', import.meta.url), 'utf8')) as object;
const validateConfig = new Ajv2020({ allErrors: true }).compile(filterSchema);
const GITHUB = readFileSync(new URL('../fixtures/openapi/github-subset.yaml', import.meta.url));

interface Op { id: string; apiId: string; key: string; operationId: string | null; method: string; path: string; cost: number; visibility: string; summary: string | null; position: number }
interface ApiV { id: string; name: string; pathPrefix: string; unknownOperation: string; operationCount: number; importedFrom: { title: string; version: string; sha256: string } | null; updatedAt: string; hosts: string[] }
interface Reply {
  dryRun: boolean; api: ApiV; operations: Op[];
  diff: { api: string; changes: Record<string, { before: unknown; after: unknown }>; operations: { added: Op[]; changed: { id: string; key: string; before: Record<string, unknown>; after: Record<string, unknown> }[]; removed: Op[]; moved: number; unchanged: number } };
}
interface Problem { status: number; title: string; detail: string; errors?: { pointer: string; message: string }[] }

const ok = { 200: { description: 'ok' } };
/** A small OpenAPI 3.0 document; `paths` replaces its paths. */
function petstore(paths?: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: { title: 'Petstore', version: '1.0.0' },
    servers: [{ url: 'https://{region}.pets.example.com/{base}/v1', variables: { region: { default: 'eu' }, base: { default: 'pets' } } }],
    paths: paths ?? {
      '/pets': {
        get: { operationId: 'listPets', summary: 'List pets', responses: ok },
        post: { operationId: 'createPet', 'x-tollgate': { cost: 5 }, responses: ok },
      },
      '/pets/{petId}': {
        parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'string' } }],
        get: { responses: ok },
        delete: { operationId: 'deletePet', 'x-tollgate': { visibility: 'internal' }, responses: ok },
      },
    },
    ...extra,
  };
}

describe('OpenAPI import over REST', () => {
  let t: TestApp;
  before(async () => { t = await testApp(); });
  after(async () => { await t.close(); });

  const send = (body: string | Buffer, contentType = 'application/json', query = '', token = ADMIN) =>
    t.app.inject({ method: 'POST', url: `/v1/apis:import${query}`, headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, payload: body });
  const importJson = (doc: unknown, query = '') => send(JSON.stringify(doc), 'application/json', query);
  const allApis = async (): Promise<ApiV[]> => (await t.admin('GET', '/v1/apis?limit=500')).json<{ items: ApiV[] }>().items;
  async function allOps(apiId: string): Promise<Op[]> {
    const out: Op[] = [];
    let cursor = '';
    for (;;) {
      const page = (await t.admin('GET', `/v1/apis/${apiId}/operations?limit=7${cursor}`)).json<{ items: Op[]; nextCursor: string | null }>();
      out.push(...page.items);
      if (page.nextCursor === null) return out.sort((a, b) => a.position - b.position);
      cursor = `&cursor=${page.nextCursor}`;
    }
  }
  /** Everything an import could change, to compare before and after a refused or dry-run one. */
  const state = async () => {
    const apis = await allApis();
    return { apis, ops: await Promise.all(apis.map((a) => allOps(a.id))) };
  };

  it('imports an OpenAPI 3.0 JSON document: base path from servers[0] (variables by default), operations, cost and visibility', async () => {
    const res = await importJson(petstore());
    assert.equal(res.statusCode, 201, res.body);
    const r = res.json<Reply>();
    assert.equal(r.dryRun, false);
    assert.equal(r.api.name, 'Petstore');
    assert.equal(r.api.pathPrefix, '/pets/v1');
    assert.equal(r.api.unknownOperation, 'reject');
    assert.equal(r.api.operationCount, 4);
    assert.equal(r.api.importedFrom?.title, 'Petstore');
    assert.equal(r.api.importedFrom?.version, '1.0.0');
    assert.match(r.api.importedFrom!.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(r.operations.map((o) => [o.method, o.path, o.key, o.cost, o.visibility]), [
      ['GET', '/pets/v1/pets', 'listPets', 1, 'public'],
      ['POST', '/pets/v1/pets', 'createPet', 5, 'public'],
      ['GET', '/pets/v1/pets/{petId}', 'GET /pets/{petId}', 1, 'public'],
      ['DELETE', '/pets/v1/pets/{petId}', 'deletePet', 1, 'internal'],
    ]);
    assert.equal(r.operations[0]!.summary, 'List pets');
    for (const o of r.operations) assert.match(o.id, /^op_[A-Za-z0-9]{10}$/);
    assert.equal(r.diff.api, 'created');
    assert.equal(r.diff.operations.added.length, 4);
    // Stored as answered: the API's view, and the list (paged).
    const got = (await t.admin('GET', `/v1/apis/${r.api.id}`)).json<ApiV>();
    assert.equal(got.operationCount, 4);
    assert.deepEqual(await allOps(r.api.id), r.operations);
    const one = (await t.admin('GET', `/v1/apis/${r.api.id}/operations?limit=1`)).json<{ items: Op[]; nextCursor: string | null }>();
    assert.equal(one.items.length, 1);
    assert.notEqual(one.nextCursor, null);
    assert.equal((await t.admin('GET', '/v1/apis/api_nope/operations')).statusCode, 404);
  });

  it('imports an OpenAPI 3.1 YAML document in each YAML media type: relative server URL, $ref path items, mixed segments', async () => {
    const doc = {
      openapi: '3.1.0',
      info: { title: 'Files', version: '2024-01-01' },
      servers: [{ url: '/files/api/' }],
      'x-tollgate': { unknownOperation: 'pass', cost: 2 },
      paths: {
        '/reports/{id}.{format}': { get: { operationId: 'getReport', responses: ok } },
        '/blobs/{id}': { $ref: '#/components/pathItems/blob' },
        '/caf\u00e9/%7Euser': { get: { operationId: 'cafe', responses: ok } },
      },
      components: { pathItems: { blob: { get: { operationId: 'getBlob', 'x-tollgate': { cost: 0 }, responses: ok } } } },
    };
    for (const [i, type] of ['application/yaml', 'application/x-yaml', 'text/yaml', 'application/vnd.oai.openapi'].entries()) {
      const name = `Files ${i}`;
      const res = await send(stringify(doc), type, `?name=${encodeURIComponent(name)}`);
      assert.equal(res.statusCode, 201, `${type}: ${res.body}`);
      const r = res.json<Reply>();
      assert.equal(r.api.name, name);
      assert.equal(r.api.pathPrefix, '/files/api');
      assert.equal(r.api.unknownOperation, 'pass');
      assert.deepEqual(r.operations.map((o) => [o.method, o.path, o.cost]), [
        ['GET', '/files/api/reports/{id_format}', 2],
        ['GET', '/files/api/blobs/{id}', 0],
        ['GET', '/files/api/caf%C3%A9/~user', 2],
      ]);
    }
  });

  it('takes application/vnd.oai.openapi+json; ?pathPrefix= overrides the servers base path; no servers → /', async () => {
    const res = await send(JSON.stringify(petstore(undefined, { info: { title: 'Pets B', version: '1' } })), 'application/vnd.oai.openapi+json', '?pathPrefix=/b');
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json<Reply>().api.pathPrefix, '/b');
    assert.equal(res.json<Reply>().operations[0]!.path, '/b/pets');
    const bare = await importJson({ ...petstore(undefined, { info: { title: 'Pets C', version: '1' } }), servers: undefined });
    assert.equal(bare.statusCode, 201, bare.body);
    assert.equal(bare.json<Reply>().api.pathPrefix, '/');
    assert.equal(bare.json<Reply>().operations[0]!.path, '/pets');
    const bad = await importJson(petstore(undefined, { info: { title: 'Pets D', version: '1' } }), '?pathPrefix=/a//b');
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json<{ errors: { path: string }[] }>().errors[0]!.path, 'querystring/pathPrefix');
  });

  it('re-import updates in place: ids kept by operationId or "METHOD template", changed ones updated, gone ones deleted, new ones added', async () => {
    const first = (await importJson(petstore(undefined, { info: { title: 'Reimport', version: '1' } }))).json<Reply>();
    const id = (key: string): string => first.operations.find((o) => o.key === key)!.id;
    const paths = {
      // New first: every other operation moves one place down.
      '/owners': { get: { operationId: 'listOwners', responses: ok } },
      '/pets': {
        get: { operationId: 'listPets', summary: 'List all pets', responses: ok },
        post: { operationId: 'createPet', 'x-tollgate': { cost: 7 }, responses: ok },
      },
      '/pets/{petId}': {
        get: { responses: ok },
        // deletePet is gone.
      },
    };
    const res = await importJson(petstore(paths, { info: { title: 'Reimport', version: '2' } }));
    assert.equal(res.statusCode, 200, res.body);
    const r = res.json<Reply>();
    assert.equal(r.api.id, first.api.id);
    assert.equal(r.diff.api, 'updated');
    assert.deepEqual(r.diff.changes.importedFrom?.after, { title: 'Reimport', version: '2', sha256: r.api.importedFrom!.sha256 });
    assert.deepEqual(r.diff.operations.added.map((o) => o.key), ['listOwners']);
    assert.deepEqual(r.diff.operations.removed.map((o) => o.id), [id('deletePet')]);
    assert.deepEqual(r.diff.operations.changed.map((c) => [c.id, c.before, c.after]).sort(), [
      [id('createPet'), { cost: 5 }, { cost: 7 }],
      [id('listPets'), { summary: 'List pets' }, { summary: 'List all pets' }],
    ].sort());
    assert.equal(r.diff.operations.moved, 1);
    assert.equal(r.diff.operations.unchanged, 0);
    const stored = await allOps(first.api.id);
    assert.deepEqual(stored.map((o) => [o.key, o.id === (first.operations.find((f) => f.key === o.key)?.id ?? o.id), o.cost, o.position]), [
      ['listOwners', true, 1, 0], ['listPets', true, 1, 1], ['createPet', true, 7, 2], ['GET /pets/{petId}', true, 1, 3],
    ]);
    assert.equal(stored.find((o) => o.key === 'GET /pets/{petId}')!.id, id('GET /pets/{petId}'));
    assert.equal((await t.admin('GET', `/v1/apis/${first.api.id}`)).json<ApiV>().operationCount, 4);
    // The same document again: nothing changes, not even updatedAt.
    const again = await importJson(petstore(paths, { info: { title: 'Reimport', version: '2' } }));
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<Reply>().diff.api, 'unchanged');
    assert.equal(again.json<Reply>().diff.operations.unchanged, 4);
    assert.equal(again.json<Reply>().api.updatedAt, (await t.admin('GET', `/v1/apis/${first.api.id}`)).json<ApiV>().updatedAt);
  });

  it('?apiId= targets that API whatever the title (its name and hosts kept unless ?name=); an unknown id is 404 and creates nothing', async () => {
    const made = (await t.admin('POST', '/v1/apis', { name: 'hand-made', pathPrefix: '/hand', hosts: ['shop.example.com'] })).json<ApiV>();
    assert.equal(made.operationCount, 0);
    assert.equal(made.importedFrom, null);
    const res = await importJson(petstore(), `?apiId=${made.id}`);
    assert.equal(res.statusCode, 200, res.body);
    const r = res.json<Reply>();
    assert.equal(r.api.id, made.id);
    assert.equal(r.api.name, 'hand-made');
    assert.deepEqual(r.api.hosts, ['shop.example.com']);
    assert.equal(r.api.pathPrefix, '/pets/v1');
    assert.deepEqual(r.diff.changes.pathPrefix, { before: '/hand', after: '/pets/v1' });
    const renamed = await importJson(petstore(), `?apiId=${made.id}&name=renamed`);
    assert.equal(renamed.json<Reply>().api.name, 'renamed');
    const before = await state();
    const missing = await importJson(petstore(), '?apiId=api_missing000');
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(await state(), before);
  });

  it('operations stay reachable: a PATCH may not move the prefix off them or drop their methods (409); an API limited to some methods refuses operations of others (422)', async () => {
    const r = (await importJson(petstore(undefined, { info: { title: 'Guarded', version: '1' } }))).json<Reply>();
    const moved = await t.admin('PATCH', `/v1/apis/${r.api.id}`, { pathPrefix: '/elsewhere' });
    assert.equal(moved.statusCode, 409);
    assert.match(moved.json<Problem>().detail, /operations outside '\/elsewhere'/);
    const narrowed = await t.admin('PATCH', `/v1/apis/${r.api.id}`, { methods: ['GET'] });
    assert.equal(narrowed.statusCode, 409);
    assert.match(narrowed.json<Problem>().detail, /(POST|DELETE) operations/);
    assert.equal((await t.admin('PATCH', `/v1/apis/${r.api.id}`, { pathPrefix: '/pets' })).statusCode, 200, 'still above every operation');
    assert.equal((await t.admin('PATCH', `/v1/apis/${r.api.id}`, { methods: ['GET', 'POST', 'DELETE', 'PUT'] })).statusCode, 200);
    const limited = (await t.admin('POST', '/v1/apis', { name: 'read-only', pathPrefix: '/ro', methods: ['GET'] })).json<ApiV>();
    const before = await state();
    const res = await importJson(petstore(), `?apiId=${limited.id}`);
    assert.equal(res.statusCode, 422, res.body);
    assert.deepEqual(res.json<Problem>().errors!.map((e) => e.pointer), ['/paths/~1pets/post', '/paths/~1pets~1{petId}/delete']);
    assert.deepEqual(await state(), before);
  });

  it('PATCH sets unknownOperation (reject|pass): stored, compiled into the filter configuration, other fields kept; a bad value is 400; a re-import sets it from the document again', async () => {
    const r = (await importJson(petstore(undefined, { info: { title: 'Lenient', version: '1' } }))).json<Reply>();
    assert.equal(r.api.unknownOperation, 'reject');
    const compiledMode = async (): Promise<string | undefined> => {
      await t.app.distributor.flush();
      return t.app.distributor.current!.compiled.config.apis.find((a) => a.id === r.api.id)!.unknownOperation;
    };
    assert.equal(await compiledMode(), undefined, 'reject is the default: not written');
    const passed = await t.admin('PATCH', `/v1/apis/${r.api.id}`, { unknownOperation: 'pass' });
    assert.equal(passed.statusCode, 200, passed.body);
    const after = passed.json<ApiV>();
    assert.equal(after.unknownOperation, 'pass');
    assert.deepEqual({ ...after, unknownOperation: r.api.unknownOperation, updatedAt: '' }, { ...r.api, updatedAt: '' }, 'nothing else changed');
    assert.equal((await t.admin('GET', `/v1/apis/${r.api.id}`)).json<ApiV>().unknownOperation, 'pass');
    assert.equal(await compiledMode(), 'pass');
    const bad = await t.admin('PATCH', `/v1/apis/${r.api.id}`, { unknownOperation: 'allow' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.headers['content-type'] as string, /application\/problem\+json/);
    assert.match(bad.json<Problem>().detail, /unknownOperation/);
    assert.equal((await t.admin('GET', `/v1/apis/${r.api.id}`)).json<ApiV>().unknownOperation, 'pass', 'a refused patch changes nothing');
    assert.equal((await t.admin('PATCH', `/v1/apis/${r.api.id}`, { name: 'Lenient too' })).json<ApiV>().unknownOperation, 'pass', 'a patch of other fields keeps it');
    const reimported = (await importJson(petstore(undefined, { info: { title: 'Lenient', version: '1' } }), `?apiId=${r.api.id}`)).json<Reply>();
    assert.equal(reimported.api.unknownOperation, 'reject');
    assert.deepEqual(reimported.diff.changes.unknownOperation, { before: 'pass', after: 'reject' });
    assert.equal(await compiledMode(), undefined);
    assert.equal((await t.admin('PATCH', '/v1/apis/api_missing000', { unknownOperation: 'pass' })).statusCode, 404);
  });

  it('?dryRun=true returns the diff and stores nothing, for a new API and for an update', async () => {
    await t.app.distributor.flush();
    const before = await state();
    const version = t.app.distributor.current?.compiled.version;
    const fresh = await importJson(petstore(undefined, { info: { title: 'Dry', version: '1' } }), '?dryRun=true');
    assert.equal(fresh.statusCode, 200, fresh.body);
    assert.equal(fresh.json<Reply>().dryRun, true);
    assert.equal(fresh.json<Reply>().diff.api, 'created');
    assert.equal(fresh.json<Reply>().diff.operations.added.length, 4);
    const existing = (await allApis()).find((a) => a.name === 'Petstore')!;
    const update = await importJson(petstore({ '/pets': { get: { operationId: 'listPets', responses: ok } } }), '?dryRun=true');
    assert.equal(update.statusCode, 200);
    const u = update.json<Reply>();
    assert.equal(u.api.id, existing.id);
    assert.equal(u.diff.api, 'updated');
    assert.equal(u.diff.operations.removed.length, 3);
    assert.equal(u.api.operationCount, 1);
    await t.app.distributor.flush();
    assert.deepEqual(await state(), before);
    assert.equal(t.app.distributor.current?.compiled.version, version);
  });

  it('a document invalid against the OpenAPI schema: 422 with JSON pointers, nothing stored', async () => {
    const before = await state();
    const noResponses = petstore({ '/pets': { get: { operationId: 'listPets' } } });
    const res = await importJson(noResponses);
    assert.equal(res.statusCode, 422);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    const p = res.json<Problem>();
    assert.equal(p.title, 'Unprocessable Content');
    assert.ok(p.errors!.some((e) => e.pointer === '/paths/~1pets/get'), JSON.stringify(p.errors));
    const wrongVersion = await importJson({ swagger: '2.0', info: { title: 'x', version: '1' }, paths: {} });
    assert.equal(wrongVersion.statusCode, 422);
    assert.deepEqual(wrongVersion.json<Problem>().errors!.map((e) => e.pointer), ['/swagger']);
    const v32 = await importJson({ ...petstore(), openapi: '3.2.0' });
    assert.deepEqual(v32.json<Problem>().errors!.map((e) => e.pointer), ['/openapi']);
    const notObject = await importJson([1, 2]);
    assert.equal(notObject.statusCode, 422);
    assert.deepEqual(await state(), before);
  });

  it('our rules: x-tollgate fields, limits only on operations, duplicates, wildcard segments, external refs → 422 naming each pointer; nothing stored', async () => {
    const before = await state();
    const doc = petstore({
      '/a': {
        'x-tollgate': { limits: [{ requests: 10, per: 'minute' }] },
        get: { operationId: 'a', 'x-tollgate': { cost: -1, colour: 'red', unknownOperation: 'pass' }, responses: ok },
        put: { operationId: 'a', responses: ok },
        post: { operationId: 'p', 'x-tollgate': { visibility: 'secret', cost: 1_000_001 }, responses: ok },
      },
      '/b/{x}': { get: { responses: ok } },
      '/b/{y}': { get: { responses: ok } },
      '/c/*': { get: { responses: ok } },
      '/d/../e': { get: { responses: ok } },
      '/e/{open': { get: { responses: ok } },
      '/f': { $ref: 'other.yaml#/paths/~1f' },
      '/g': { $ref: '#/components/pathItems/none' },
    }, { 'x-tollgate': { unknownOperation: 'maybe', cost: 'high' } });
    const res = await importJson(doc);
    assert.equal(res.statusCode, 422, res.body);
    const errors = res.json<Problem>().errors!;
    const at = (pointer: string): string => errors.filter((e) => e.pointer === pointer).map((e) => e.message).join(' | ');
    assert.match(at('/x-tollgate/unknownOperation'), /one of reject, pass/);
    assert.match(at('/x-tollgate/cost'), /integer from 0 to 1000000/);
    assert.match(at('/paths/~1a/x-tollgate/limits'), /put them in the operation's x-tollgate/);
    assert.match(at('/paths/~1a/get/x-tollgate/cost'), /integer/);
    assert.match(at('/paths/~1a/get/x-tollgate/colour'), /unknown x-tollgate field 'colour'/);
    assert.match(at('/paths/~1a/get/x-tollgate/unknownOperation'), /document-level/);
    assert.match(at('/paths/~1a/put/operationId'), /also used by \/paths\/~1a\/get/);
    assert.match(at('/paths/~1a/post/x-tollgate/visibility'), /public, internal/);
    assert.match(at('/paths/~1a/post/x-tollgate/cost'), /integer/);
    assert.match(at('/paths/~1b~1{y}/get'), /same requests as \/paths\/~1b~1{x}\/get/);
    assert.match(at('/paths/~1c~1*'), /wildcard/);
    assert.match(at('/paths/~1d~1..~1e'), /'\.\.'/);
    assert.match(at('/paths/~1e~1{open'), /unbalanced/);
    assert.match(at('/paths/~1f/$ref'), /only references inside the document/);
    assert.match(at('/paths/~1g/$ref'), /points at nothing/);
    assert.deepEqual(await state(), before);
  });

  it('a refused re-import leaves the API and its operations as they were', async () => {
    const existing = (await allApis()).find((a) => a.name === 'Petstore')!;
    const before = await state();
    const res = await importJson(petstore({ '/pets': { get: { operationId: 'listPets', 'x-tollgate': { limits: [{ requests: 0, per: 'minute' }] }, responses: ok } } }));
    assert.equal(res.statusCode, 422);
    assert.deepEqual(await state(), before);
    assert.ok(before.apis.some((a) => a.id === existing.id));
  });

  it('a body that is not JSON or YAML → 400 problem+json; a wrong media type → 415; no token → 401; nothing stored', async () => {
    const before = await state();
    const cases: [string | Buffer, string, RegExp][] = [
      ['{"openapi": "3.1.0", ', 'application/json', /not JSON/],
      ['openapi: 3.1.0\ninfo: [unclosed\n', 'application/yaml', /not YAML \(line \d+, column \d+\)/],
      ['openapi: 3.1.0\nopenapi: 3.0.0\n', 'application/yaml', /not YAML.*unique|not YAML/i],
      ['a: 1\n---\nb: 2\n', 'application/yaml', /not YAML/],
      [Buffer.from([0x6f, 0x3a, 0x20, 0xff, 0xfe, 0x0a]), 'application/yaml', /not valid UTF-8/],
      ['   ', 'application/yaml', /empty/],
    ];
    for (const [body, type, detail] of cases) {
      const res = await send(body, type);
      assert.equal(res.statusCode, 400, `${String(body)}: ${res.body}`);
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
      assert.match(res.json<Problem>().detail, detail);
    }
    assert.equal((await send('openapi: 3.1.0', 'text/plain')).statusCode, 415);
    assert.equal((await send(JSON.stringify(petstore()), 'application/json', '', 'wrong-token')).statusCode, 401);
    assert.deepEqual(await state(), before);
  });

  it('a document nested thousands of levels deep is refused cleanly (JSON: 422 at the deep value; YAML: 400), not a stack overflow', async () => {
    const before = await state();
    for (const depth of [300, 1_000_000]) {
      const json = await send(`{"openapi":"3.1.0","info":{"title":"deep","version":"1"},"paths":{},"x-deep":${'['.repeat(depth)}${']'.repeat(depth)}}`);
      assert.equal(json.statusCode, 422, json.body.slice(0, 300));
      const e = json.json<Problem>().errors!;
      assert.equal(e.length, 1);
      assert.match(e[0]!.pointer, /^\/x-deep(\/0){255}$/);
      assert.match(e[0]!.message, /deeper than 256 levels/);
      const yaml = await send(`openapi: 3.1.0\ninfo: {title: deep, version: '1'}\npaths: {}\nx-deep: ${'['.repeat(depth)}${']'.repeat(depth)}\n`, 'application/yaml');
      assert.ok(yaml.statusCode === 400 || yaml.statusCode === 422, yaml.body.slice(0, 300));
      if (yaml.statusCode === 400) assert.match(yaml.json<Problem>().detail, /nested too deeply/);
    }
    assert.deepEqual(await state(), before);
  });

  it('refuses a body over 10 MiB with 413', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024 + 1, 0x20);
    const res = await send(big, 'application/yaml');
    assert.equal(res.statusCode, 413);
  });

  it('a YAML alias bomb is refused, not expanded', async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const res = await send(lines.join('\n'), 'application/yaml');
    assert.equal(res.statusCode, 400, res.body.slice(0, 300));
  });

  it('the 80-operation GitHub subset (3.1 YAML) imports, compiles into a valid filter configuration, and re-imports unchanged', async () => {
    const res = await send(GITHUB, 'application/yaml');
    assert.equal(res.statusCode, 201, res.body.slice(0, 2000));
    const r = res.json<Reply>();
    assert.equal(r.api.name, 'GitHub REST API (subset)');
    assert.equal(r.api.pathPrefix, '/github');
    assert.equal(r.operations.length, 80);
    assert.equal(new Set(r.operations.map((o) => o.id)).size, 80);
    const by = (operationId: string): Op => r.operations.find((o) => o.operationId === operationId)!;
    assert.deepEqual([by('repos/get').method, by('repos/get').path], ['GET', '/github/repos/{owner}/{repo}']);
    assert.equal(by('search/repos').cost, 10, 'path-item x-tollgate');
    assert.equal(by('pulls/merge').cost, 5, 'operation x-tollgate');
    assert.equal(by('rate-limit/get').cost, 0);
    assert.equal(by('users/list-emails-for-authenticated-user').visibility, 'internal');
    await t.app.distributor.flush();
    const config = t.app.distributor.current!.compiled.config;
    assert.equal(validateConfig(config), true, JSON.stringify(validateConfig.errors));
    const compiled = config.apis.find((a) => a.id === r.api.id)!;
    assert.equal(compiled.operations!.length, 80);
    assert.equal('unknownOperation' in compiled, false);
    const again = await send(GITHUB, 'application/yaml');
    assert.equal(again.json<Reply>().diff.api, 'unchanged');
    assert.deepEqual(again.json<Reply>().operations.map((o) => o.id), r.operations.map((o) => o.id));
  });

  it('concurrent imports of one new document make one API (the others update or find it unchanged)', async () => {
    const doc = JSON.stringify(petstore(undefined, { info: { title: 'Racing', version: '1' } }));
    const replies = await Promise.all(Array.from({ length: 4 }, () => send(doc)));
    assert.deepEqual(replies.map((r) => r.statusCode).sort(), [200, 200, 200, 201], replies.map((r) => r.body.slice(0, 200)).join('\n'));
    const ids = new Set(replies.map((r) => r.json<Reply>().api.id));
    assert.equal(ids.size, 1);
    assert.equal((await allApis()).filter((a) => a.name === 'Racing').length, 1);
    const opIds = replies.map((r) => r.json<Reply>().operations.map((o) => o.id).join());
    assert.equal(new Set(opIds).size, 1, 'every reply names the stored operation ids');
  });

  it('the REST OpenAPI document lists the import and the operations list', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>> }>();
    assert.ok('/v1/apis:import' in doc.paths, Object.keys(doc.paths).join());
    assert.ok('/v1/apis/{id}/operations' in doc.paths);
    assert.ok('application/yaml' in (doc.paths['/v1/apis:import']!.post!.requestBody?.content ?? {}));
  });

  it('deleting an imported API deletes its operations', async () => {
    const r = (await importJson(petstore(undefined, { info: { title: 'Short-lived', version: '1' } }))).json<Reply>();
    assert.equal((await t.admin('DELETE', `/v1/apis/${r.api.id}`)).statusCode, 204);
    assert.equal((await t.admin('GET', `/v1/apis/${r.api.id}/operations`)).statusCode, 404);
    await t.app.distributor.flush();
    const ids = new Set(r.operations.map((o) => o.id));
    assert.ok(!t.app.distributor.current!.compiled.config.apis.some((a) => a.operations?.some((o) => ids.has(o.id))));
  });
});

describe('OpenAPI import: restart', () => {
  it('operations and their ids survive a restart of the service', sqliteOnly('reopens the same SQLite file'), async () => {
    const first = await testApp();
    const dbPath = first.dbPath;
    let apiId: string;
    let ops: string;
    try {
      const res = await first.app.inject({ method: 'POST', url: '/v1/apis:import', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/yaml' }, payload: GITHUB });
      assert.equal(res.statusCode, 201);
      apiId = res.json<Reply>().api.id;
      ops = JSON.stringify(res.json<Reply>().operations);
      await first.app.close();
      const second = await testApp({ dbPath });
      try {
        const again = await second.app.inject({ method: 'POST', url: '/v1/apis:import', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/yaml' }, payload: GITHUB });
        assert.equal(again.statusCode, 200);
        assert.equal(again.json<Reply>().api.id, apiId);
        assert.equal(again.json<Reply>().diff.api, 'unchanged');
        assert.equal(JSON.stringify(again.json<Reply>().operations), ops);
      } finally {
        await second.close();
      }
    } finally {
      await first.close().catch(() => undefined);
    }
  });
});
