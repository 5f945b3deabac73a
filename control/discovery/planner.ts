// The decisions of service discovery, as one pure function: Services (as the informer holds them), the documents they
// point at, discovery's records and the APIs and plans in the store → one action per Service or record. The applier
// (applier.ts) carries actions out; the dry run (GET /v1/discovery/plan, `tollgate discover --dry-run`) only shows them.
import { createHash } from 'node:crypto';
import type { Syntax } from '../openapi/document.js';
import { pathPrefixProblem } from '../path-prefix.js';
import type { Api } from '../store/types.js';
import type { DiscoveredApi } from './record.js';
import { describeRef, readIntent, serviceHosts, type ServiceFacts } from './service-facts.js';

/** A Service's OpenAPI document as fetched (spec-source.ts), or why it could not be. */
export type SpecOutcome = { ok: true; ref: string; body: Uint8Array; syntax: Syntax; sha256: string } | { ok: false; ref: string; error: string };

/** What discovery wants the API of one Service to be. */
export interface Desired {
  name: string;
  /** Undefined: the document's servers[0] base path (import), else '/'. */
  pathPrefix: string | undefined;
  hosts: string[];
  methods: string[];
  spec: Extract<SpecOutcome, { ok: true }> | undefined;
  /** Digest of all of the above: equal to the record's → nothing to write. */
  hash: string;
}

export interface ServiceRef { uid: string; namespace: string; name: string }

export type Action =
  /** Make the API (`record`: a claim or an earlier Service's record this one takes over). */
  | { kind: 'create'; service: ServiceRef; desired: Desired; record: DiscoveredApi | undefined }
  /** Bring the API in line; `changes` names what differs (for the dry run). */
  | { kind: 'update'; service: ServiceRef; desired: Desired; record: DiscoveredApi; api: Api; changes: string[] }
  /** Stop managing: a person edited or deleted the API. */
  | { kind: 'disown'; service: ServiceRef; record: DiscoveredApi; reason: string }
  /** The Service is gone or no longer exposed: delete the API, or keep it marked retired while `plans` list it. */
  | { kind: 'retire'; service: ServiceRef; record: DiscoveredApi; api: Api; plans: string[] }
  /** Drop the record only (the API is gone, or it is a person's now and the Service is gone). */
  | { kind: 'forget'; service: ServiceRef; record: DiscoveredApi; reason: string }
  | { kind: 'skip'; service: ServiceRef; reason: string; error?: boolean; record?: DiscoveredApi };

export interface PlanInput {
  services: ServiceFacts[];
  /** By Service uid, for exposed Services that name a document. */
  specs: ReadonlyMap<string, SpecOutcome>;
  records: DiscoveredApi[];
  apis: Api[];
  /** Plan ids that list each API id. */
  planRefs: ReadonlyMap<string, string[]>;
  namespaces: readonly string[];
  annotationPrefix: string;
  /** Overwrite APIs a person edited (and recreate ones a person deleted). */
  adopt: boolean;
}

/** The API as discovery left it: any write by someone else changes this. */
export function apiFingerprint(api: Api): string {
  const view = {
    name: api.name, pathPrefix: api.pathPrefix, hosts: [...api.hosts].sort(), methods: [...api.methods].sort(),
    unknownOperation: api.unknownOperation, imported: api.importedFrom?.sha256 ?? null, operations: api.operationCount,
  };
  return createHash('sha256').update(JSON.stringify(view)).digest('hex');
}

/** The API name discovery gives a Service's API: `<service>.<namespace>` (unique, readable, stable across re-creation). */
export const apiNameOf = (s: { name: string; namespace: string }): string => `${s.name}.${s.namespace}`;

function desiredOf(s: ServiceFacts, pathPrefix: string | undefined, spec: Desired['spec']): Desired {
  const base = { name: apiNameOf(s), pathPrefix, hosts: serviceHosts(s), methods: [] as string[] };
  const hash = createHash('sha256').update(JSON.stringify({ ...base, pathPrefix: pathPrefix ?? null, spec: spec?.sha256 ?? null })).digest('hex');
  return { ...base, spec, hash };
}

/** What differs between the API and the desired state (for the dry run); the document counts when its digest differs. */
function changesOf(api: Api, d: Desired): string[] {
  const out: string[] = [];
  if (api.name !== d.name) out.push('name');
  if (d.pathPrefix !== undefined && api.pathPrefix !== d.pathPrefix) out.push('pathPrefix');
  if (d.pathPrefix === undefined && d.spec === undefined && api.pathPrefix !== '/') out.push('pathPrefix');
  if ([...api.hosts].sort().join() !== [...d.hosts].sort().join()) out.push('hosts');
  if ([...api.methods].sort().join() !== [...d.methods].sort().join()) out.push('methods');
  if (d.spec !== undefined && api.importedFrom?.sha256 !== d.spec.sha256) out.push('openapi');
  return out;
}

const refOf = (s: ServiceFacts | DiscoveredApi): ServiceRef => ('uid' in s
  ? { uid: s.uid, namespace: s.namespace, name: s.name }
  : { uid: s.serviceUid, namespace: s.namespace, name: s.serviceName });

export function planDiscovery(input: PlanInput): Action[] {
  const managedNs = new Set(input.namespaces);
  const apisById = new Map(input.apis.map((a) => [a.id, a]));
  const apisByName = new Map(input.apis.map((a) => [a.name, a]));
  const recordsByUid = new Map(input.records.map((r) => [r.serviceUid, r]));
  const liveUids = new Set(input.services.map((s) => s.uid));
  // A record whose Service is gone can be taken over by a Service of the same namespace and name (deleted and made
  // again: a new uid), so a plan listing its API keeps it.
  const orphansByName = new Map(input.records.filter((r) => !liveUids.has(r.serviceUid)).map((r) => [`${r.namespace}/${r.serviceName}`, r]));
  const handled = new Set<string>();
  const actions: Action[] = [];

  const services = [...input.services].filter((s) => managedNs.has(s.namespace))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.uid.localeCompare(b.uid));
  for (const s of services) {
    const ref = refOf(s);
    const intent = readIntent(s, input.annotationPrefix);
    if (!intent.exposed) continue;
    const record = recordsByUid.get(s.uid) ?? orphansByName.get(`${s.namespace}/${s.name}`);
    if (record !== undefined) handled.add(record.serviceUid);
    const prefixProblem = intent.pathPrefix === undefined ? null : pathPrefixProblem(intent.pathPrefix);
    const problem = intent.problem ?? (prefixProblem === null ? undefined : `${input.annotationPrefix}path-prefix: ${prefixProblem}`);
    if (problem !== undefined) {
      actions.push({ kind: 'skip', service: ref, reason: problem, error: true, ...(record !== undefined ? { record } : {}) });
      continue;
    }
    let spec: Desired['spec'];
    if (intent.spec !== undefined) {
      const got = input.specs.get(s.uid);
      if (got === undefined || !got.ok) {
        const why = got === undefined ? 'not fetched yet' : got.error;
        actions.push({ kind: 'skip', service: ref, reason: `OpenAPI document ${describeRef(intent.spec)}: ${why}; the API is left as it is`, error: true, ...(record !== undefined ? { record } : {}) });
        continue;
      }
      spec = got;
    }
    const desired = desiredOf(s, intent.pathPrefix, spec);

    if (record === undefined) {
      const taken = apisByName.get(desired.name);
      if (taken !== undefined) actions.push({ kind: 'skip', service: ref, reason: `an API named '${desired.name}' was made by hand (${taken.id}); discovery never touches it`, error: true });
      else actions.push({ kind: 'create', service: ref, desired, record: undefined });
      continue;
    }
    // A claim whose API was created but not recorded (a crash in between): the API with the claimed name is ours.
    const api = record.apiId !== null ? apisById.get(record.apiId) : apisByName.get(record.apiName);
    if (api === undefined) {
      if (record.apiId === null || input.adopt) actions.push({ kind: 'create', service: ref, desired, record });
      else if (record.managed) actions.push({ kind: 'disown', service: ref, record, reason: 'the API was deleted by hand; not made again (adopt to recreate it)' });
      else actions.push({ kind: 'skip', service: ref, record, reason: 'the API was deleted by hand; not made again (adopt to recreate it)' });
      continue;
    }
    const edited = !record.managed || (record.apiId !== null && api !== undefined && apiFingerprint(api) !== record.apiFingerprint);
    if (edited && !input.adopt) {
      if (record.managed) actions.push({ kind: 'disown', service: ref, record, reason: `API ${api.id} was edited by hand; left alone from now on (adopt to overwrite it)` });
      else actions.push({ kind: 'skip', service: ref, record, reason: `API ${api.id} was edited by hand; left alone (adopt to overwrite it)` });
      continue;
    }
    const upToDate = !edited && record.apiId !== null && record.serviceUid === s.uid && record.state === 'active' && record.desiredHash === desired.hash;
    if (upToDate) {
      actions.push({ kind: 'skip', service: ref, record, reason: 'up to date' });
      continue;
    }
    const changes = changesOf(api, desired);
    if (record.serviceUid !== s.uid) changes.push('service uid');
    if (record.state === 'retired') changes.push('un-retired');
    if (edited) changes.push('adopted');
    actions.push({ kind: 'update', service: ref, desired, record, api, changes });
  }

  for (const record of input.records) {
    if (handled.has(record.serviceUid) || !managedNs.has(record.namespace)) continue;
    const ref = refOf(record);
    const api = record.apiId !== null ? apisById.get(record.apiId) : apisByName.get(record.apiName);
    const live = liveUids.has(record.serviceUid);
    if (api === undefined) {
      actions.push({ kind: 'forget', service: ref, record, reason: live ? 'no longer exposed; its API is gone' : 'the Service is gone; so is its API' });
      continue;
    }
    const edited = !record.managed || (record.apiId !== null && apiFingerprint(api) !== record.apiFingerprint);
    if (edited && !input.adopt) {
      actions.push({ kind: 'forget', service: ref, record, reason: `API ${api.id} was edited by hand: it stays, as the person's` });
      continue;
    }
    const plans = input.planRefs.get(api.id) ?? [];
    if (record.state === 'retired' && plans.length > 0 && !edited) {
      actions.push({ kind: 'skip', service: ref, record, reason: `retired; kept while plans list it: ${plans.join(', ')}` });
      continue;
    }
    actions.push({ kind: 'retire', service: ref, record, api, plans });
  }
  return actions;
}
