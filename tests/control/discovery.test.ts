// Service discovery end to end below REST: a loopback list/watch API server (fake-kube-watch.ts), the real store of
// this run's backend, the real informer, documents from a ConfigMap and over real HTTP from a loopback "Service".
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { AlwaysLeader } from '../../control/replicas/leader.js';
import { Discovery, type DiscoveryOptions } from '../../control/discovery/service.js';
import type { Store } from '../../control/store/repository.js';
import type { Api } from '../../control/store/types.js';
import { fakeKubeWatch, type FakeKubeWatch } from './fake-kube-watch.js';
import { testApp, type TestApp } from './helpers.js';
import { openapi } from './discovery-fixtures.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const EXPOSE = { 'tollgate.dev/expose': 'true' };

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function apiNamed(store: Store, name: string): Promise<Api | undefined> {
  return (await store.apis.list({ limit: 500, after: undefined })).items.find((a) => a.name === name);
}

/** The API discovery made and finished recording (its record holds the API id and what was applied). */
async function discovered(store: Store, name: string): Promise<Api | undefined> {
  const record = (await store.discovery.list()).find((r) => r.apiName === name && r.apiId !== null && r.desiredHash !== '');
  return record === undefined ? undefined : store.apis.get(record.apiId!);
}

/** Waits for every event so far to be synced: the informer's resourceVersion caught up, then one more sync. */
async function settle(d: Discovery, kube: FakeKubeWatch): Promise<void> {
  kube.bookmark(); // moves every watch to the current resourceVersion, whichever namespace the last event was in
  await until('informer caught up', () => (d.status().namespaces.every((n) => Number(n.resourceVersion) >= kube.resourceVersion) ? true : undefined));
  await new Promise((r) => setTimeout(r, 30));
  await d.syncNow();
  await d.idle();
}

describe('discovery: annotated Services become APIs', () => {
  let t: TestApp;
  let kube: FakeKubeWatch;
  let d: Discovery;
  let docServer: Server;
  let docBody: { status: number; body: string; type: string } = { status: 200, body: openapi('Catalog', ['/things']), type: 'application/json' };
  let docHits = 0;
  // The "mesh": <service>.<ns>.svc.cluster.local resolves to the loopback document server.
  let docPort = 0;
  const meshFetch: typeof fetch = (input, init) => {
    const u = new URL(String(input));
    if (!u.hostname.endsWith('.svc.cluster.local') && u.hostname.split('.').length !== 2) return Promise.reject(new TypeError('fetch failed', { cause: new Error('ENOTFOUND') }));
    u.hostname = '127.0.0.1';
    u.port = String(docPort);
    return fetch(u, init);
  };
  const make = (o: Partial<DiscoveryOptions> = {}): Discovery => new Discovery({
    store: t.app.store, kubeConfig: kube.kubeConfig(), namespaces: ['shop'], annotationPrefix: 'tollgate.dev/', adopt: false, log: quiet,
    leadership: new AlwaysLeader(), debounceMs: 10, retryMs: 50, fetch: meshFetch, fetchTimeoutMs: 500, maxDocumentBytes: 64 * 1024, ...o,
  });

  before(async () => {
    t = await testApp();
    kube = await fakeKubeWatch({ namespaces: ['shop', 'other'] });
    docServer = createServer((req, res) => {
      docHits++;
      if (docBody.status === 0) return; // never answers: the fetch must time out
      res.statusCode = docBody.status;
      res.setHeader('content-type', docBody.type);
      res.end(docBody.body);
    });
    docServer.listen(0, '127.0.0.1');
    await once(docServer, 'listening');
    docPort = (docServer.address() as { port: number }).port;
    kube.setConfigMap('shop', 'orders-spec', { 'v1.json': openapi('Orders', ['/items', '/items/{id}']), 'v2.yaml': 'openapi: 3.0.3\ninfo: {title: Orders, version: "2"}\nservers: [{url: /orders}]\npaths:\n  /items: {get: {operationId: op0, responses: {"200": {description: ok}}}}\n  /items/{id}: {get: {operationId: op1, responses: {"200": {description: ok}}}}\n  /carts: {post: {operationId: op2, responses: {"200": {description: ok}}}}\n' });
    d = make();
    d.start();
  });
  after(async () => {
    await d.close();
    docServer.closeAllConnections();
    await new Promise((r) => docServer.close(r));
    await kube.close();
    await t.close();
  });

  it('dry run lists what it would do and writes nothing', async () => {
    kube.apply('shop', { name: 'orders', annotations: { ...EXPOSE, 'tollgate.dev/openapi': 'configmap:orders-spec/v1.json' } });
    kube.apply('shop', { name: 'plain' }); // not annotated: not listed
    const dry = make();
    try {
      const { source, rows } = await dry.dryRun();
      assert.equal(source, 'list');
      assert.deepEqual(rows.map((r) => [r.service, r.action, r.apiName]), [['orders', 'create', 'orders.shop']]);
      assert.match(rows[0]!.detail, /would create from configmap:orders-spec\/v1.json/);
    } finally {
      await dry.close();
    }
  });

  it('annotate → an API with the operations of the ConfigMap document and the Service hosts', async () => {
    const api = await until('orders API', () => discovered(t.app.store, 'orders.shop'));
    assert.equal(api.pathPrefix, '/orders');
    assert.deepEqual(api.hosts, ['orders.shop.svc.cluster.local', 'orders.shop', 'orders']);
    assert.equal(api.operationCount, 2);
    const ops = (await t.app.store.apis.operations(api.id, { limit: 50, after: undefined })).items.map((o) => `${o.method} ${o.path}`);
    assert.deepEqual(ops.sort(), ['GET /orders/items', 'GET /orders/items/{id}']);
    const [record] = await t.app.store.discovery.list();
    assert.equal(record!.apiId, api.id);
    assert.equal(record!.managed, true);
    assert.equal(record!.state, 'active');
    assert.equal(record!.serviceUid, (kube.apply('shop', { name: 'orders', annotations: { ...EXPOSE, 'tollgate.dev/openapi': 'configmap:orders-spec/v1.json' } })).metadata.uid);
    await settle(d, kube);
    assert.equal(await apiNamed(t.app.store, 'plain.shop'), undefined);
  });

  it('the path-prefix annotation changes → the API is updated', async () => {
    kube.apply('shop', { name: 'orders', annotations: { ...EXPOSE, 'tollgate.dev/openapi': 'configmap:orders-spec/v1.json', 'tollgate.dev/path-prefix': '/v1/orders' } });
    const api = await until('prefix moved', async () => { const a = await apiNamed(t.app.store, 'orders.shop'); return a?.pathPrefix === '/v1/orders' ? a : undefined; });
    const ops = (await t.app.store.apis.operations(api.id, { limit: 50, after: undefined })).items.map((o) => o.path);
    assert.deepEqual(ops.sort(), ['/v1/orders/items', '/v1/orders/items/{id}']);
  });

  it('the document changes (another key) → operations follow', async () => {
    kube.apply('shop', { name: 'orders', annotations: { ...EXPOSE, 'tollgate.dev/openapi': 'configmap:orders-spec/v2.yaml' } });
    const api = await until('three operations', async () => { const a = await apiNamed(t.app.store, 'orders.shop'); return a?.operationCount === 3 ? a : undefined; });
    assert.equal(api.pathPrefix, '/orders');
    assert.equal(api.importedFrom?.version, '2');
  });

  it('idempotent: a replayed list, repeated syncs and a restarted discovery write nothing', async () => {
    await settle(d, kube);
    const apisBefore = JSON.stringify((await t.app.store.apis.list({ limit: 500, after: undefined })).items);
    const recordsBefore = JSON.stringify(await t.app.store.discovery.list());
    const lists = kube.lists.length;
    kube.dropWatches();
    kube.apply('shop', { name: 'plain', annotations: { unrelated: 'x' } }); // an event the dropped watch missed…
    kube.compact(); // …and forgotten: → 410 → the whole list again, every Service "added" again
    await until('relisted', () => (kube.lists.length > lists ? true : undefined));
    await settle(d, kube);
    await d.syncNow();
    const again = make();
    again.start();
    await until('second instance synced', () => (again.status().syncs > 0 ? true : undefined));
    assert.ok(again.status().services.every((r) => r.action === 'skip' && r.detail === 'up to date'), JSON.stringify(again.status().services));
    await again.close();
    assert.equal(JSON.stringify((await t.app.store.apis.list({ limit: 500, after: undefined })).items), apisBefore);
    assert.equal(JSON.stringify(await t.app.store.discovery.list()), recordsBefore);
  });

  it('an API a person made with the same name is never touched', async () => {
    const mine = await t.app.store.apis.create({ name: 'billing.shop', pathPrefix: '/mine', hosts: [], methods: [] });
    kube.apply('shop', { name: 'billing', annotations: EXPOSE });
    await settle(d, kube);
    const row = d.status().services.find((r) => r.service === 'billing')!;
    assert.equal(row.action, 'skip');
    assert.equal(row.error, true);
    assert.match(row.detail, /made by hand/);
    assert.deepEqual(await t.app.store.apis.get(mine.id), mine);
    kube.remove('shop', 'billing');
    await settle(d, kube);
    assert.deepEqual(await t.app.store.apis.get(mine.id), mine, 'not retired either: it was never discovery\'s');
  });

  it('a person edits a discovered API → discovery leaves it alone; with adopt it is overwritten', async () => {
    kube.apply('shop', { name: 'users', annotations: EXPOSE });
    const api = await until('users API', () => discovered(t.app.store, 'users.shop'));
    assert.equal(api.pathPrefix, '/');
    const edited = await t.app.store.apis.update(api.id, { methods: ['GET'] });
    kube.apply('shop', { name: 'users', annotations: { ...EXPOSE, 'tollgate.dev/path-prefix': '/users' } });
    await settle(d, kube);
    assert.deepEqual(await t.app.store.apis.get(api.id), edited, 'the person\'s edit stays; the annotation change is not applied');
    const record = (await t.app.store.discovery.list()).find((r) => r.serviceName === 'users')!;
    assert.equal(record.managed, false);
    assert.match(d.status().services.find((r) => r.service === 'users')!.detail, /edited by hand/);
    // Told to adopt (TOLLGATE_DISCOVERY_OVERWRITE=true): a one-off instance brings it back in line.
    const adopt = make({ adopt: true });
    try {
      adopt.start();
      await until('adopted', async () => { const a = await t.app.store.apis.get(api.id); return a.pathPrefix === '/users' && a.methods.length === 0 ? a : undefined; });
      await adopt.idle();
    } finally {
      await adopt.close();
    }
    assert.equal((await t.app.store.discovery.list()).find((r) => r.serviceName === 'users')!.managed, true);
  });

  it('annotation removed → the API is deleted (no plan lists it)', async () => {
    const api = (await apiNamed(t.app.store, 'users.shop'))!;
    kube.apply('shop', { name: 'users', annotations: {} });
    await until('deleted, and its record', async () => ((await apiNamed(t.app.store, 'users.shop')) === undefined
      && (await t.app.store.discovery.list()).every((r) => r.serviceName !== 'users') ? true : undefined));
    await assert.rejects(t.app.store.apis.get(api.id));
    assert.equal((await t.app.store.discovery.list()).find((r) => r.serviceName === 'users'), undefined);
  });

  it('Service deleted while a plan lists the API → kept and marked retired; deleted once no plan lists it', async () => {
    kube.apply('shop', { name: 'carts', annotations: EXPOSE });
    const api = await until('carts API', () => discovered(t.app.store, 'carts.shop'));
    const plan = await t.app.store.plans.create({ name: 'carts-plan', limits: [{ requests: 10, per: 'minute' }], apiIds: [api.id] });
    kube.remove('shop', 'carts');
    await settle(d, kube);
    assert.ok(await t.app.store.apis.get(api.id), 'still there: a plan lists it');
    const record = (await t.app.store.discovery.list()).find((r) => r.serviceName === 'carts')!;
    assert.equal(record.state, 'retired');
    assert.match(d.status().services.find((r) => r.service === 'carts')!.detail, /retired/);
    // Made again (a new uid): it takes the retired API over, the plan keeps it.
    const again = kube.apply('shop', { name: 'carts', annotations: EXPOSE });
    await settle(d, kube);
    const taken = (await t.app.store.discovery.list()).find((r) => r.serviceName === 'carts')!;
    assert.equal(taken.serviceUid, again.metadata.uid);
    assert.equal(taken.state, 'active');
    assert.equal(taken.apiId, api.id);
    kube.remove('shop', 'carts');
    await settle(d, kube);
    assert.equal((await t.app.store.discovery.list()).find((r) => r.serviceName === 'carts')!.state, 'retired');
    await t.app.store.plans.update(plan.id, { apiIds: [] });
    await d.syncNow();
    await assert.rejects(t.app.store.apis.get(api.id));
    assert.equal((await t.app.store.discovery.list()).find((r) => r.serviceName === 'carts'), undefined);
  });

  it('a document served by the Service itself (openapi-path) is fetched over HTTP', async () => {
    docBody = { status: 200, body: openapi('Catalog', ['/things', '/things/{id}'], '/catalog'), type: 'application/json' };
    kube.apply('shop', { name: 'catalog', annotations: { ...EXPOSE, 'tollgate.dev/openapi-path': '/openapi.json' }, ports: [{ name: 'http', port: 8080 }] });
    const api = await until('catalog API', () => discovered(t.app.store, 'catalog.shop'));
    assert.equal(api.pathPrefix, '/catalog');
    assert.equal(api.operationCount, 2);
    // Fetched once per Service version: syncs in between reuse it (until the resync period).
    const hits = docHits;
    await d.syncNow();
    await d.syncNow();
    assert.equal(docHits, hits);
  });

  it('a document that cannot be fetched or is refused → an error in the status, the API left as it was, the rest goes on', async () => {
    const catalog = (await apiNamed(t.app.store, 'catalog.shop'))!;
    for (const [bad, why] of [
      [{ status: 503, body: 'down', type: 'text/plain' }, /HTTP 503/],
      [{ status: 0, body: '', type: 'text/plain' }, /timed out/],
      [{ status: 200, body: 'x'.repeat(70 * 1024), type: 'application/json' }, /bytes/],
      [{ status: 200, body: '{"openapi": "3.0.3"}', type: 'application/json' }, /refused|failed/],
    ] as const) {
      docBody = bad;
      kube.apply('shop', { name: 'catalog', annotations: { ...EXPOSE, 'tollgate.dev/openapi-path': '/openapi.json', 'tollgate.dev/path-prefix': '/cat' } });
      kube.apply('shop', { name: 'search', annotations: EXPOSE });
      await settle(d, kube);
      const row = d.status().services.find((r) => r.service === 'catalog')!;
      assert.equal(row.error, true, JSON.stringify(row));
      assert.match(row.detail, why);
      assert.deepEqual(await t.app.store.apis.get(catalog.id), catalog);
    }
    assert.ok(await apiNamed(t.app.store, 'search.shop'), 'another Service is handled regardless');
    docBody = { status: 200, body: openapi('Catalog', ['/things', '/things/{id}'], '/catalog'), type: 'application/json' };
    kube.apply('shop', { name: 'catalog', annotations: { ...EXPOSE, 'tollgate.dev/openapi-path': '/openapi.json' } });
    await settle(d, kube);
    assert.equal(d.status().services.find((r) => r.service === 'catalog')!.error, false);
  });

  it('bad annotations are reported per Service: a missing ConfigMap, a URL outside the namespace, a bad prefix', async () => {
    for (const [annotations, why] of [
      [{ 'tollgate.dev/openapi': 'configmap:missing/spec.json' }, /404/],
      [{ 'tollgate.dev/openapi': 'http://169.254.169.254/latest/meta-data' }, /must name a Service of namespace shop/],
      [{ 'tollgate.dev/openapi': 'http://api.other.svc.cluster.local/openapi.json' }, /must name a Service of namespace shop/],
      [{ 'tollgate.dev/path-prefix': '/a//b' }, /'\/\/'/],
      [{ 'tollgate.dev/openapi': 'configmap:x/y', 'tollgate.dev/openapi-path': '/o' }, /at most one/],
    ] as const) {
      kube.apply('shop', { name: 'broken', annotations: { ...EXPOSE, ...annotations } });
      await settle(d, kube);
      const row = d.status().services.find((r) => r.service === 'broken')!;
      assert.equal(row.error, true);
      assert.match(row.detail, why);
      assert.equal(await apiNamed(t.app.store, 'broken.shop'), undefined);
    }
    kube.remove('shop', 'broken');
    assert.ok(!kube.configMapGets.some((g) => !g.startsWith('shop/')), 'ConfigMaps read only in the Service\'s namespace');
  });

  it('a document URL is fetched only from a Service of the namespace, never through an ExternalName alias', async () => {
    // An ExternalName Service is a CNAME to any host (here: a cloud metadata endpoint); a name with no Service behind
    // it can resolve outside the cluster through the DNS search path. Neither is fetched.
    kube.apply('shop', { name: 'meta', type: 'ExternalName', externalName: '169.254.169.254', ports: [{ name: 'http', port: 80 }] });
    const hits = docHits;
    for (const [annotations, why] of [
      [{ 'tollgate.dev/openapi': 'http://meta.shop/latest/meta-data' }, /not fetched: .*shop\/meta, an ExternalName Service/],
      [{ 'tollgate.dev/openapi': 'http://ghost.shop.svc.cluster.local/openapi.json' }, /not fetched: .*shop\/ghost, which does not exist/],
    ] as const) {
      kube.apply('shop', { name: 'aliased', annotations: { ...EXPOSE, ...annotations } });
      await settle(d, kube);
      const row = d.status().services.find((r) => r.service === 'aliased')!;
      assert.equal(row.error, true, JSON.stringify(row));
      assert.match(row.detail, why);
      assert.equal(await apiNamed(t.app.store, 'aliased.shop'), undefined);
    }
    // openapi-path on an ExternalName Service itself would go through the alias too.
    kube.apply('shop', { name: 'meta', type: 'ExternalName', externalName: '169.254.169.254', ports: [{ name: 'http', port: 80 }], annotations: { ...EXPOSE, 'tollgate.dev/openapi-path': '/latest/meta-data' } });
    await settle(d, kube);
    assert.match(d.status().services.find((r) => r.service === 'meta')!.detail, /an ExternalName Service/);
    assert.equal(docHits, hits, 'nothing was fetched');
    // The same URL naming a ClusterIP Service of the namespace is fetched.
    docBody = { status: 200, body: openapi('Docs', ['/d']), type: 'application/json' };
    kube.apply('shop', { name: 'docs', ports: [{ name: 'http', port: 80 }] });
    kube.apply('shop', { name: 'aliased', annotations: { ...EXPOSE, 'tollgate.dev/openapi': 'http://docs.shop/openapi.json' } });
    const api = await until('aliased API', () => discovered(t.app.store, 'aliased.shop'));
    assert.equal(api.operationCount, 1);
    assert.ok(docHits > hits);
    for (const name of ['aliased', 'meta', 'docs']) kube.remove('shop', name);
    await settle(d, kube);
  });

  it('Services outside the managed namespaces are not seen', async () => {
    kube.apply('other', { name: 'hidden', annotations: EXPOSE });
    await settle(d, kube);
    assert.equal(await apiNamed(t.app.store, 'hidden.other'), undefined);
    assert.ok(!kube.lists.includes('other'));
  });
});
