// Carrying out the planner's actions against the store. Each step is one store transaction and is safe to repeat:
// the record is claimed (name reserved, keyed by Service uid) before the API is written and completed after, so a
// crash in between is finished at the next sync rather than leaving an API that looks hand-made.
import { ConflictError, NotFoundError } from '../errors.js';
import { importOpenApi } from '../openapi/import.js';
import type { Store } from '../store/repository.js';
import type { Api } from '../store/types.js';
import { apiFingerprint, type Action, type Desired } from './planner.js';
import type { DiscoveredApi } from './record.js';

/** What one action did (or, for the dry run, would do). */
export interface ActionResult { action: Action['kind']; apiId: string | null; detail: string; error: boolean }

export interface ApplierOptions { store: Store; now: () => number }

export class Applier {
  constructor(private readonly o: ApplierOptions) {}

  async apply(a: Action): Promise<ActionResult> {
    try {
      switch (a.kind) {
        case 'create': case 'update': {
          const api = await this.write(a.service, a.desired, a.record, a.kind === 'update' ? a.api.id : undefined);
          return { action: a.kind, apiId: api.id, detail: a.kind === 'update' ? `updated: ${a.changes.join(', ') || 'recorded'}` : 'created', error: false };
        }
        case 'disown':
          await this.o.store.discovery.put({ ...a.record, managed: false, updatedAt: this.o.now() });
          return { action: a.kind, apiId: a.record.apiId, detail: a.reason, error: false };
        case 'forget':
          await this.o.store.discovery.remove(a.record.serviceUid);
          return { action: a.kind, apiId: a.record.apiId, detail: a.reason, error: false };
        case 'retire':
          return await this.retire(a);
        case 'skip':
          return { action: a.kind, apiId: a.record?.apiId ?? null, detail: a.reason, error: a.error === true };
      }
    } catch (err) {
      return { action: a.kind, apiId: 'record' in a ? a.record?.apiId ?? null : null, detail: `failed: ${(err as Error).message}`, error: true };
    }
  }

  private async write(service: { uid: string; namespace: string; name: string }, d: Desired, record: DiscoveredApi | undefined, existingId: string | undefined): Promise<Api> {
    const { store, now } = this.o;
    const base: DiscoveredApi = {
      serviceUid: service.uid, namespace: service.namespace, serviceName: service.name, apiId: existingId ?? record?.apiId ?? null,
      apiName: d.name, managed: true, state: 'active', desiredHash: '', apiFingerprint: record?.apiFingerprint ?? '', updatedAt: now(),
    };
    const replaces = record !== undefined && record.serviceUid !== service.uid ? record.serviceUid : undefined;
    // Claim first (a new Service: the name; a takeover: the earlier Service's record moves to this uid).
    if (record === undefined || replaces !== undefined || record.apiName !== d.name) await store.discovery.put(base, replaces);
    let api: Api;
    try {
      api = await this.writeApi(d, existingId ?? record?.apiId ?? undefined);
    } catch (err) {
      // A person took the name between the plan and now: give the claim up, never touch their API.
      if (err instanceof ConflictError && base.apiId === null) await store.discovery.remove(service.uid);
      throw err;
    }
    await store.discovery.put({ ...base, apiId: api.id, desiredHash: d.hash, apiFingerprint: apiFingerprint(api), updatedAt: now() });
    return api;
  }

  private async writeApi(d: Desired, apiId: string | undefined): Promise<Api> {
    const apis = this.o.store.apis;
    let api: Api;
    if (d.spec !== undefined) {
      // A new API is made with its hosts first, then imported into: the import cannot set hosts, and an API without
      // hosts would match every host for the moment between the two writes.
      if (apiId === undefined) apiId = (await apis.create({ name: d.name, pathPrefix: d.pathPrefix ?? '/', hosts: d.hosts, methods: d.methods })).id;
      const imported = await importOpenApi(apis, {
        body: d.spec.body, syntax: d.spec.syntax, dryRun: false, name: d.name,
        ...(apiId !== undefined ? { apiId } : {}), ...(d.pathPrefix !== undefined ? { pathPrefix: d.pathPrefix } : {}),
      });
      api = imported.api;
    } else if (apiId !== undefined) {
      api = await apis.update(apiId, { name: d.name, pathPrefix: d.pathPrefix ?? '/' });
    } else {
      return apis.create({ name: d.name, pathPrefix: d.pathPrefix ?? '/', hosts: d.hosts, methods: d.methods });
    }
    // Import keeps an existing API's hosts and methods and gives a new one none: set them (one more write only when
    // they differ).
    const same = (x: string[], y: string[]): boolean => [...x].sort().join() === [...y].sort().join();
    if (!same(api.hosts, d.hosts) || !same(api.methods, d.methods)) api = await apis.update(api.id, { hosts: d.hosts, methods: d.methods });
    return api;
  }

  /** Deleted when no plan lists it; else kept and marked retired (a plan must never lose an API silently). */
  private async retire(a: Extract<Action, { kind: 'retire' }>): Promise<ActionResult> {
    const { store, now } = this.o;
    try {
      await store.apis.delete(a.api.id);
    } catch (err) {
      if (err instanceof NotFoundError) {
        await store.discovery.remove(a.record.serviceUid);
        return { action: 'retire', apiId: a.api.id, detail: 'the API was already gone', error: false };
      }
      if (!(err instanceof ConflictError)) throw err;
      // A plan lists it (the store refuses the delete in the same transaction that checks): keep it, retired.
      await store.discovery.put({ ...a.record, state: 'retired', apiId: a.api.id, apiFingerprint: apiFingerprint(a.api), updatedAt: now() });
      return { action: 'retire', apiId: a.api.id, detail: `kept and marked retired: plans list it${a.plans.length > 0 ? ` (${a.plans.join(', ')})` : ''}`, error: false };
    }
    await store.discovery.remove(a.record.serviceUid);
    return { action: 'retire', apiId: a.api.id, detail: 'deleted', error: false };
  }
}
