// The planner's decisions on their own (control/discovery/planner.ts): pure inputs → actions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiFingerprint, planDiscovery, type PlanInput } from '../../control/discovery/planner.js';
import type { DiscoveredApi } from '../../control/discovery/record.js';
import { readIntent, serviceFacts, urlServiceProblem, type ServiceFacts } from '../../control/discovery/service-facts.js';
import type { Api } from '../../control/store/types.js';

const svc = (name: string, annotations: Record<string, string> = { 'tollgate.dev/expose': 'true' }, ns = 'shop', uid = `uid-${name}`): ServiceFacts =>
  ({ uid, namespace: ns, name, resourceVersion: '1', annotations, ports: [{ name: 'http', port: 8080 }] });
const api = (id: string, name: string, over: Partial<Api> = {}): Api => ({
  id, name, pathPrefix: '/', hosts: [`${name.split('.')[0]}.shop.svc.cluster.local`, name, name.split('.')[0]!], methods: [], createdAt: 1, updatedAt: 1,
  unknownOperation: 'reject', importedFrom: null, operationCount: 0, ...over,
});
const record = (name: string, a: Api | null, over: Partial<DiscoveredApi> = {}): DiscoveredApi => ({
  serviceUid: `uid-${name}`, namespace: 'shop', serviceName: name, apiId: a?.id ?? null, apiName: `${name}.shop`, managed: true, state: 'active',
  desiredHash: 'x', apiFingerprint: a === null ? '' : apiFingerprint(a), updatedAt: 1, ...over,
});
const plan = (over: Partial<PlanInput>) => planDiscovery({
  services: [], specs: new Map(), records: [], apis: [], planRefs: new Map(), namespaces: ['shop'], annotationPrefix: 'tollgate.dev/', adopt: false, ...over,
});
const kinds = (over: Partial<PlanInput>) => plan(over).map((a) => `${a.service.name}:${a.kind}`);

describe('discovery planner', () => {
  it('creates for an exposed Service, ignores others and other namespaces', () => {
    assert.deepEqual(kinds({ services: [svc('a'), svc('b', {}), svc('c', { 'tollgate.dev/expose': 'false' }), svc('d', undefined, 'elsewhere')] }), ['a:create']);
  });

  it('annotation prefix is configurable', () => {
    assert.deepEqual(kinds({ services: [svc('a'), svc('b', { 'apis.example.com/expose': 'true' })], annotationPrefix: 'apis.example.com/' }), ['b:create']);
  });

  it('a claim without an API id (a crash after creating the API): the API with the claimed name is ours → update', () => {
    const a = api('api_1', 'a.shop');
    const [action] = plan({ services: [svc('a')], apis: [a], records: [record('a', null, { desiredHash: '' })] });
    assert.equal(action!.kind, 'update');
  });

  it('a claim without an API (crash before creating it) → create', () => {
    assert.deepEqual(kinds({ services: [svc('a')], records: [record('a', null, { desiredHash: '' })] }), ['a:create']);
  });

  it('a discovered API deleted by a person → disown; with adopt → create again', () => {
    const r = record('a', api('api_1', 'a.shop'));
    assert.deepEqual(kinds({ services: [svc('a')], records: [r] }), ['a:disown']);
    assert.deepEqual(kinds({ services: [svc('a')], records: [r], adopt: true }), ['a:create']);
    assert.deepEqual(kinds({ services: [svc('a')], records: [{ ...r, managed: false }] }), ['a:skip']);
  });

  it('gone Service: delete when no plan lists it, retire-keep when one does, skip once retired, forget a person\'s API', () => {
    const a = api('api_1', 'a.shop');
    const [retire] = plan({ apis: [a], records: [record('a', a)] });
    assert.equal(retire!.kind, 'retire');
    assert.deepEqual(retire?.kind === 'retire' ? retire.plans : null, []);
    const [keep] = plan({ apis: [a], records: [record('a', a)], planRefs: new Map([['api_1', ['plan_1']]]) });
    assert.deepEqual(keep?.kind === 'retire' ? keep.plans : null, ['plan_1']);
    assert.deepEqual(kinds({ apis: [a], records: [record('a', a, { state: 'retired' })], planRefs: new Map([['api_1', ['plan_1']]]) }), ['a:skip']);
    const edited = { ...a, methods: ['GET'] };
    assert.deepEqual(kinds({ apis: [edited], records: [record('a', a)] }), ['a:forget']);
    assert.deepEqual(kinds({ records: [record('a', a)] }), ['a:forget'], 'its API is gone already');
  });

  it('records of namespaces no longer managed are left alone', () => {
    const a = api('api_1', 'a.shop');
    assert.deepEqual(kinds({ apis: [a], records: [record('a', a)], namespaces: ['billing'] }), []);
  });

  it('a URL annotation must name a Service of the same namespace; openapi-path uses the http port or openapi-port', () => {
    const ok = readIntent(svc('a', { 'tollgate.dev/expose': 'true', 'tollgate.dev/openapi': 'http://docs.shop:9000/spec.yaml' }), 'tollgate.dev/');
    assert.deepEqual(ok.spec, { kind: 'url', url: 'http://docs.shop:9000/spec.yaml' });
    for (const bad of ['http://docs.billing/x', 'http://10.0.0.1/x', 'file:///etc/passwd', 'http://user:pw@docs.shop/x', 'http://docs.shop.evil.com/x']) {
      assert.match(readIntent(svc('a', { 'tollgate.dev/expose': 'true', 'tollgate.dev/openapi': bad }), 'tollgate.dev/').problem ?? '', /namespace shop|expected/, bad);
    }
    const byPath = readIntent(svc('a', { 'tollgate.dev/expose': 'true', 'tollgate.dev/openapi-path': '/openapi.json', 'tollgate.dev/openapi-port': '9090' }), 'tollgate.dev/');
    assert.deepEqual(byPath.spec, { kind: 'url', url: 'http://a.shop.svc.cluster.local:9090/openapi.json' });
  });

  it('a document URL is fetched only when it names a non-ExternalName Service the watch sees in that namespace', () => {
    const seen = new Map<string, Pick<ServiceFacts, 'type'>>([['shop/docs', {}], ['shop/lb', { type: 'LoadBalancer' }], ['shop/meta', { type: 'ExternalName' }], ['billing/ghost', {}]]);
    assert.equal(urlServiceProblem('http://docs.shop:9000/spec.yaml', 'shop', seen), undefined);
    assert.equal(urlServiceProblem('http://lb.shop.svc.cluster.local/o.json', 'shop', seen), undefined);
    assert.match(urlServiceProblem('http://meta.shop/latest', 'shop', seen) ?? '', /ExternalName/);
    assert.match(urlServiceProblem('http://ghost.shop/x', 'shop', seen) ?? '', /does not exist/, 'a Service of another namespace does not count');
    // The fact is read from the Service's spec.
    assert.equal(serviceFacts({ metadata: { uid: 'u', name: 'm', namespace: 'shop' }, spec: { type: 'ExternalName', externalName: 'x.example.com' } })?.type, 'ExternalName');
    assert.equal(serviceFacts({ metadata: { uid: 'u', name: 'm', namespace: 'shop' }, spec: {} })?.type, undefined);
  });

  it('the same inputs twice give the same actions (the planner is deterministic)', () => {
    const input = { services: [svc('b'), svc('a')], apis: [api('api_9', 'z.shop')], records: [record('z', api('api_9', 'z.shop'))] };
    assert.deepEqual(plan(input), plan(input));
    assert.deepEqual(kinds(input), ['a:create', 'b:create', 'z:retire']);
  });
});
