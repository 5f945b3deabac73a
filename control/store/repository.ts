// The store's seams. Handlers and services depend on these interfaces only; SQLite (store/sqlite) implements them
// today and a PostgreSQL backend could implement them next (see docs/control.md for why repositories rather than a
// query builder). Methods are async so a networked backend fits without changing callers.
import type {
  Api, ApiKey, CatalogSnapshot, Consumer, IngestResult, Page, PageRequest, Plan, Limit, UsageQuery, UsageReport,
  UsageSummary,
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

export interface UsageRepository {
  /** Idempotent by batch id; durable when the promise resolves. `now` picks the fleet windows of the reply. */
  ingest(report: UsageReport, now: number): Promise<IngestResult>;
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
  secrets: SecretRepository;
  /** Everything the compiler reads, from one consistent read. */
  snapshot(): Promise<CatalogSnapshot>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
