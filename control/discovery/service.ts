// Service discovery, running: the informer (watcher.ts) says something changed → after a short debounce, one sync:
// read the records, APIs and plans, fetch the documents exposed Services name, plan (planner.ts), apply (applier.ts).
// Level-triggered: every sync compares the whole picture, so a missed or repeated event cannot leave it wrong, and a
// replayed list writes nothing. Only the leader applies (on PostgreSQL an advisory lock of its own; SQLite is one
// process); every replica can answer the dry run.
import { CoreV1Api, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import type { FastifyBaseLogger } from 'fastify';
import { MAX_DOCUMENT_BYTES } from '../routes/v1/apis/import.js';
import { AdvisoryLeader, AlwaysLeader, type Leadership } from '../replicas/leader.js';
import { isPostgresStore } from '../store/postgres/index.js';
import type { Store } from '../store/repository.js';
import type { Api, PageRequest, Page } from '../store/types.js';
import { Applier, type ActionResult } from './applier.js';
import { planDiscovery, type Action, type SpecOutcome } from './planner.js';
import { describeRef, readIntent, serviceFacts, urlServiceProblem, type ServiceFacts } from './service-facts.js';
import { errorText, SpecSource } from './spec-source.js';
import { listServicesOnce, ServiceWatcher, type NamespaceWatchStatus } from './watcher.js';

/** Discovery's own leader lock ("tollgate-discovery" folded into 63 bits), apart from the distributor's. */
export const DISCOVERY_LOCK_KEY = 0x746f6c6c64697363n;

export interface DiscoveryOptions {
  store: Store;
  kubeConfig: KubeConfig;
  namespaces: readonly string[];
  annotationPrefix: string;
  adopt: boolean;
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
  /** Default: an advisory lock on PostgreSQL, always the leader on SQLite. */
  leadership?: Leadership;
  debounceMs?: number;
  /** A full sync this often even without events (documents behind URLs change on their own). Default 5 min. */
  resyncMs?: number;
  fetchTimeoutMs?: number;
  maxDocumentBytes?: number;
  retryMs?: number;
  fetch?: typeof fetch;
}

/** One row of the dry run and of the status: a Service (or a record whose Service is gone) and its action. */
export interface DiscoveryRow {
  namespace: string; service: string; uid: string; action: Action['kind']; apiId: string | null; apiName: string | null;
  detail: string; error: boolean;
}

export interface DiscoveryStatus {
  enabled: boolean;
  leader: boolean;
  watching: boolean;
  synced: boolean;
  adopt: boolean;
  lastSyncAt: number | null;
  lastSyncError: string | null;
  syncs: number;
  namespaces: NamespaceWatchStatus[];
  /** The last sync's result per Service (applied actions and skips). */
  services: (DiscoveryRow & { at: number })[];
}

async function all<T extends { id: string }>(list: (p: PageRequest) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await list({ limit: 500, after });
    out.push(...page.items);
    if (page.nextCursor === null) return out;
    after = page.nextCursor;
  }
}

/** Runs `fn` over items with at most `n` at once. */
async function mapLimit<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

export function rowOf(a: Action, result?: ActionResult): DiscoveryRow {
  const record = 'record' in a ? a.record : undefined;
  const apiId = result?.apiId ?? (a.kind === 'update' || a.kind === 'retire' ? a.api.id : record?.apiId ?? null);
  const apiName = 'desired' in a ? a.desired.name : record?.apiName ?? null;
  const detail = result?.detail ?? (a.kind === 'update' ? `would update: ${a.changes.join(', ') || 'record'}`
    : a.kind === 'create' ? `would create${a.desired.spec !== undefined ? ` from ${a.desired.spec.ref}` : ''}`
      : a.kind === 'retire' ? (a.plans.length > 0 ? `would keep, retired: plans list it (${a.plans.join(', ')})` : 'would delete')
        : a.reason);
  return {
    namespace: a.service.namespace, service: a.service.name, uid: a.service.uid, action: a.kind, apiId, apiName, detail,
    error: result?.error ?? (a.kind === 'skip' && a.error === true),
  };
}

export class Discovery {
  private readonly watcher: ServiceWatcher;
  private readonly specs: SpecSource;
  private readonly applier: Applier;
  private readonly leadership: Leadership;
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private lastSyncAt: number | null = null;
  private lastSyncError: string | null = null;
  private syncs = 0;
  private results = new Map<string, DiscoveryRow & { at: number }>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: DiscoveryOptions) {
    const core = o.kubeConfig.makeApiClient(CoreV1Api);
    this.specs = new SpecSource({
      core, maxBytes: o.maxDocumentBytes ?? MAX_DOCUMENT_BYTES, timeoutMs: o.fetchTimeoutMs ?? 5000, ttlMs: o.resyncMs ?? 300_000,
      ...(o.fetch !== undefined ? { fetch: o.fetch } : {}),
    });
    this.applier = new Applier({ store: o.store, now: () => Math.floor(Date.now() / 1000) });
    this.watcher = new ServiceWatcher({
      kubeConfig: o.kubeConfig, namespaces: o.namespaces, onChange: () => this.schedule(), log: o.log,
      ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
    });
    const store = o.store;
    this.leadership = o.leadership ?? (isPostgresStore(store)
      ? new AdvisoryLeader({ connect: () => store.connect(), log: o.log as FastifyBaseLogger, lockKey: DISCOVERY_LOCK_KEY, duty: 'discovery' })
      : new AlwaysLeader());
    // A replica that becomes the leader catches up at once.
    this.leadership.onChange((leader) => { if (leader) this.schedule(); });
  }

  start(): void {
    this.watcher.start();
    const every = this.o.resyncMs ?? 300_000;
    this.resyncTimer = setInterval(() => this.schedule(), every);
    this.resyncTimer.unref();
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  /** A sync soon (events come in bursts: one sync for the burst). */
  schedule(): void {
    if (this.closed) return;
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.syncNow();
    }, this.o.debounceMs ?? 100);
    this.timer.unref();
  }

  /** Runs a sync now, or one more right after the one running. */
  syncNow(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.syncOnce();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = undefined;
      if (this.timer === undefined) for (const w of this.idleWaiters.splice(0)) w();
    });
    return this.running;
  }

  /** Resolves once no sync is running or scheduled (tests). */
  idle(): Promise<void> {
    if (this.running === undefined && this.timer === undefined) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async syncOnce(): Promise<void> {
    // Before every namespace was listed once, a Service not seen yet would look deleted: wait.
    if (!this.watcher.synced || !this.leadership.isLeader || this.closed) return;
    try {
      const actions = await this.plan(this.watcher.services());
      const at = Math.floor(Date.now() / 1000);
      const results = new Map<string, DiscoveryRow & { at: number }>();
      for (const a of actions) {
        if (this.closed || !this.leadership.isLeader) return;
        const result = await this.applier.apply(a);
        const row = rowOf(a, result);
        if (a.kind !== 'skip') this.o.log.info({ namespace: row.namespace, service: row.service, action: row.action, apiId: row.apiId, detail: row.detail }, 'discovery');
        else if (row.error && this.results.get(row.uid)?.detail !== row.detail) this.o.log.warn({ namespace: row.namespace, service: row.service, detail: row.detail }, 'discovery: service skipped');
        results.set(row.uid, { ...row, at });
      }
      this.results = results;
      this.lastSyncAt = at;
      this.lastSyncError = null;
      this.syncs++;
    } catch (err) {
      this.lastSyncError = errorText(err);
      this.o.log.error({ err: this.lastSyncError }, 'discovery: sync failed; tried again at the next change or resync');
    }
  }

  /** The actions a sync would take now, over these Services. */
  async plan(raw: readonly V1Service[]): Promise<Action[]> {
    const services = raw.map(serviceFacts).filter((s): s is ServiceFacts => s !== undefined);
    const [records, apis, plans] = await Promise.all([
      this.o.store.discovery.list(), all<Api>((p) => this.o.store.apis.list(p)), all((p) => this.o.store.plans.list(p)),
    ]);
    const planRefs = new Map<string, string[]>();
    for (const p of plans) for (const id of p.apiIds) planRefs.set(id, [...(planRefs.get(id) ?? []), p.id]);
    const wanted = services.filter((s) => this.o.namespaces.includes(s.namespace))
      .map((s) => ({ s, spec: readIntent(s, this.o.annotationPrefix) }))
      .filter((x) => x.spec.exposed && x.spec.problem === undefined && x.spec.spec !== undefined);
    const specs = new Map<string, SpecOutcome>();
    const byName = new Map(services.map((s) => [`${s.namespace}/${s.name}`, s]));
    await mapLimit(wanted, 4, async ({ s, spec }) => {
      const ref = spec.spec!;
      // A URL is fetched only from a Service the watch sees, never through an ExternalName alias (service-facts.ts).
      const refused = ref.kind === 'url' ? urlServiceProblem(ref.url, s.namespace, byName) : undefined;
      specs.set(s.uid, refused !== undefined ? { ok: false, ref: describeRef(ref), error: refused } : await this.specs.get(ref, s.resourceVersion));
    });
    return planDiscovery({
      services, specs, records, apis, planRefs, namespaces: this.o.namespaces, annotationPrefix: this.o.annotationPrefix, adopt: this.o.adopt,
    });
  }

  /** The dry run: from the informer's cache when it is synced, else from one list of each namespace. */
  async dryRun(): Promise<{ source: 'watch' | 'list'; rows: DiscoveryRow[] }> {
    const fromWatch = this.watcher.synced;
    const services = fromWatch ? this.watcher.services() : await listServicesOnce(this.o.kubeConfig, this.o.namespaces);
    return { source: fromWatch ? 'watch' : 'list', rows: (await this.plan(services)).map((a) => rowOf(a)) };
  }

  status(): DiscoveryStatus {
    return {
      enabled: true, leader: this.leadership.isLeader, watching: !this.closed, synced: this.watcher.synced, adopt: this.o.adopt,
      lastSyncAt: this.lastSyncAt, lastSyncError: this.lastSyncError, syncs: this.syncs,
      namespaces: this.watcher.statuses(), services: [...this.results.values()],
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    this.timer = undefined;
    await this.watcher.stop();
    await this.running?.catch(() => undefined);
    for (const w of this.idleWaiters.splice(0)) w();
    if (this.o.leadership === undefined) await this.leadership.close();
  }
}
