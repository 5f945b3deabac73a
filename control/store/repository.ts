// The store's seams. Handlers and services depend on these interfaces only; SQLite (store/sqlite) implements them
// today and a PostgreSQL backend could implement them next (see docs/control.md for why repositories rather than a
// query builder). Methods are async so a networked backend fits without changing callers.
import type {
  Api, ApiKey, CatalogSnapshot, Consumer, IngestResult, Page, PageRequest, PathForm, Plan, Limit, ReporterScope,
  Target, TargetWithCredentials, UsageQuery, UsageReport, UsageSummary,
} from './types.js';

export interface ApiInput { name: string; pathPrefix: string; hosts: string[]; methods: string[] }
export interface PlanInput { name: string; limits: Limit[]; apiIds: string[] }

export interface ApiRepository {
  create(input: ApiInput): Promise<Api>;
  get(id: string): Promise<Api>;
  list(page: PageRequest): Promise<Page<Api>>;
  update(id: string, patch: Partial<ApiInput>): Promise<Api>;
  /** ConflictError while a plan still lists it. */
  delete(id: string): Promise<void>;
}

export interface PlanRepository {
  create(input: PlanInput): Promise<Plan>;
  get(id: string): Promise<Plan>;
  list(page: PageRequest): Promise<Page<Plan>>;
  update(id: string, patch: Partial<PlanInput>): Promise<Plan>;
  /** ConflictError while a key still uses it. */
  delete(id: string): Promise<void>;
}

export interface ConsumerRepository {
  create(name: string): Promise<Consumer>;
  get(id: string): Promise<Consumer>;
  list(page: PageRequest): Promise<Page<Consumer>>;
  rename(id: string, name: string): Promise<Consumer>;
  /** Deletes the consumer's keys with it (they stop working at the next distribution). */
  delete(id: string): Promise<void>;
}

export interface NewKeyRecord { consumerId: string; planId: string; digest: string; prefix: string; expiresAt: number | null }

export interface KeyRepository {
  create(record: NewKeyRecord): Promise<ApiKey>;
  get(id: string): Promise<ApiKey>;
  listForConsumer(consumerId: string, page: PageRequest): Promise<Page<ApiKey>>;
  revoke(id: string, at: number): Promise<ApiKey>;
  /**
   * Creates the successor (same consumer, plan and expiry) and shortens the predecessor's life to `graceEndsAt`, in
   * one transaction.
   */
  rotate(id: string, successor: Pick<NewKeyRecord, 'digest' | 'prefix'>, graceEndsAt: number): Promise<ApiKey>;
}

/** Where a target's WasmPlugin goes. */
export type TargetPlacement = Pick<Target, 'name' | 'namespace' | 'selector' | 'targetRefs'>;
export interface TargetInput extends TargetPlacement { apiIds: string[]; denyUnmatched: boolean; passPathForms: PathForm[] }

export interface TargetRepository {
  create(input: TargetInput, reportToken: string): Promise<TargetWithCredentials>;
  get(id: string): Promise<TargetWithCredentials>;
  list(page: PageRequest): Promise<Page<TargetWithCredentials>>;
  all(): Promise<TargetWithCredentials[]>;
  /** The default target's placement comes from the settings: ProblemError 409 when a patch tries to change it. */
  update(id: string, patch: Partial<TargetInput>): Promise<TargetWithCredentials>;
  /** ConflictError for the default target. */
  delete(id: string): Promise<void>;
  /** `token` becomes current; the current one stays valid until `previousValidUntil` (unix s). */
  rotateReportToken(id: string, token: string, previousValidUntil: number): Promise<TargetWithCredentials>;
  /**
   * Creates the default target with this placement, or moves it there (its policy fields stay). A configured token
   * replaces the stored one (the old one stays valid until `graceUntil`); a new target without one gets `newToken()`.
   */
  ensureDefault(placement: TargetPlacement, configuredToken: string | undefined, newToken: () => string, graceUntil: number): Promise<TargetWithCredentials>;
}

export interface UsageRepository {
  /**
   * Idempotent by batch id; durable when the promise resolves. Entries outside `scope` or the accepted time range are
   * refused (counted, not stored). `now` picks the fleet windows of the reply.
   */
  ingest(report: UsageReport, scope: ReporterScope, now: number): Promise<IngestResult>;
  query(q: UsageQuery): Promise<UsageSummary>;
  droppedTotal(): Promise<number>;
}

export interface SecretRepository {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
}

export interface Store {
  apis: ApiRepository;
  plans: PlanRepository;
  consumers: ConsumerRepository;
  keys: KeyRepository;
  usage: UsageRepository;
  targets: TargetRepository;
  secrets: SecretRepository;
  /** Everything the compiler reads, from one consistent read. */
  snapshot(): Promise<CatalogSnapshot>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
