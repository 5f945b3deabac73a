// The store's seams. Handlers and services depend on these interfaces only; SQLite (store/sqlite) implements them
// today and a PostgreSQL backend could implement them next (see docs/control.md for why repositories rather than a
// query builder). Methods are async so a networked backend fits without changing callers.
import type {
  Api, ApiKey, ApiOperation, ImportSource, OperationLimit, RateLimitHeaderStyle, UnknownOperationMode, CatalogSnapshot, Consumer, FleetPer, Granularity, Page, PageRequest, PathForm, Plan, Limit, Outcome,
  StatusCounts, Target, TargetWithCredentials, UsageQuery,
} from './types.js';
import type { FeedChange, FeedCredit, FeedCreditChange, FeedKey } from '../../contracts/key-feed.js';
import type { CreditAdd, CreditBalance, CreditInput, CreditTerms } from '../credits/balance.js';
import type { FeedState, LoggedChange } from '../keyfeed/rules.js';
import type { ReporterScope } from './types.js';
import type { DiscoveryRepository } from '../discovery/record.js';
import type { FleetStatusRepository } from '../fleet/repository.js';

export interface ApiInput { name: string; pathPrefix: string; hosts: string[]; methods: string[] }
/** A patch of an API: any of its input fields, and what a request matching none of its operations gets. */
export type ApiPatchInput = Partial<ApiInput> & { unknownOperation?: UnknownOperationMode };
export interface PlanInput { name: string; limits: Limit[]; apiIds: string[]; shadow?: boolean }

export interface ApiRepository {
  create(input: ApiInput): Promise<Api>;
  get(id: string): Promise<Api>;
  list(page: PageRequest): Promise<Page<Api>>;
  update(id: string, patch: ApiPatchInput): Promise<Api>;
  /** ConflictError while a plan still lists it. */
  delete(id: string): Promise<void>;
  /** The API's operations in id order (NotFoundError for an unknown API). */
  operations(apiId: string, page: PageRequest): Promise<Page<ApiOperation>>;
  /**
   * An OpenAPI import (control/openapi/): reads the API it targets and that API's operations, hands them to `plan`
   * (pure: it decides what changes) and applies the plan in the same transaction, so concurrent imports of one API
   * apply one after the other. With `dryRun` nothing is written. NotFoundError for an unknown `target.apiId`;
   * ConflictError when the name is another API's.
   */
  importApi(target: ImportTarget, plan: (current: ImportCurrent) => ImportPlan, dryRun: boolean): Promise<ImportApplied>;
}

/** The API an import updates: `apiId`, else the API named `name`, else a new one. */
export interface ImportTarget { apiId?: string; name: string }
/** What an import finds: `apiId` is the existing API's, or the id a new one gets. */
export interface ImportCurrent { apiId: string; api: Api | null; operations: ApiOperation[] }
/** The API's fields an import sets (hosts and methods of an existing API stay). */
export interface ImportedApiFields { name: string; pathPrefix: string; unknownOperation: UnknownOperationMode; importedFrom: ImportSource }
/** What an import writes: the API row when `writeApi`, and operations to insert, update (by id) and delete (ids). */
export interface ImportPlan { api: ImportedApiFields; writeApi: boolean; insert: ApiOperation[]; update: ApiOperation[]; remove: string[] }
/** `api`: as stored after the import (null for a dry run). */
export interface ImportApplied { current: ImportCurrent; plan: ImportPlan; api: Api | null }

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
  /** Moves the key to another plan (its subscription changes); 422 for an unknown plan. */
  changePlan(id: string, planId: string): Promise<ApiKey>;
}

/** Where a target's WasmPlugin goes. */
export type TargetPlacement = Pick<Target, 'name' | 'namespace' | 'selector' | 'targetRefs'>;
export interface TargetInput extends TargetPlacement {
  apiIds: string[]; denyUnmatched: boolean; passPathForms: PathForm[];
  /** Absent: 'legacy' on create, unchanged on update. */
  rateLimitHeaderStyle?: RateLimitHeaderStyle;
  /** Absent: none on create, unchanged on update; null removes it. */
  shadowHeader?: string | null;
  /** Absent: WasmPlugin on create, unchanged on update. */
  kind?: Target['kind'];
  /** Absent: none on create, unchanged on update; null removes it. */
  imagePullSecret?: Target['imagePullSecret'];
}

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

/**
 * An operation's default limits as the fleet rules see them: scoped to the operation in every plan including its API
 * (their windows are kept per subscription and `<apiId>/<operationId>` scope).
 */
export interface OperationLimitFacts { apiId: string; operationId: string; limits: OperationLimit[] }
/**
 * What the usage service needs of a key: its subscription, its plan's limits (parsed here, once) and APIs, and the
 * default limits of operations of those APIs (absent: none).
 */
export interface KeyFacts {
  keyId: string; consumerId: string; planId: string; limits: Limit[]; planApiIds: string[]; operationLimits?: OperationLimitFacts[];
  /** The subscription's credit balance (absent: none). */
  credit?: CreditTerms;
}
/** A plan as the fleet rules see it. */
export interface PlanFacts { limits: Limit[]; apiIds: string[]; operationLimits?: OperationLimitFacts[] }

/** One row to add to a minute/hour/day usage table. `units`: what its allowed requests spent (0 for other outcomes). */
export interface UsageRow {
  start: number; keyId: string; apiId: string; outcome: Outcome; consumerId: string; count: number; units: number; status: StatusCounts;
  /** Allowed requests a shadow limit would have rejected (absent: none). */
  wouldReject?: number;
  /** Minute rows only, for the billing rows (migration 016): the entry's operation ('' none) and the key's plan now. */
  operationId?: string;
  planId?: string;
}
/**
 * Units a reporter's allowed requests add to a subscription's window; the stored total never exceeds `cap`. `scope`:
 * absent or '' → the whole subscription; `<apiId>` or `<apiId>/<operationId>` → a scoped window (contracts/usage-report.ts).
 */
export interface FleetAdd { planId: string; consumerId: string; per: FleetPer; windowStart: number; reporter: string; count: number; cap: number; scope?: string }
export interface FleetWindowKey { planId: string; consumerId: string; per: FleetPer; windowStart: number; scope?: string }
/** One reporter's stored count in one window. */
export interface FleetCount extends FleetWindowKey { reporter: string; count: number }

/** A batch as stored: its id row and the rows it adds, written together or not at all. */
export interface StoredBatch {
  batchId: string; reporter: string; targetId: string; receivedAt: number; entries: number; dropped: number; refused: number;
  rows: Record<Granularity, UsageRow[]>;
  fleet: FleetAdd[];
  /** Units spent against credit grants (absent: none), added with the batch, exactly once. */
  credits?: CreditAdd[];
  /** Spend rows of these grants older than `before` (a past refill period), deleted with the batch. */
  creditPrune?: { grant: string; before: number }[];
}

/** What the billing export groups by (docs/usage-export.md); always in this order. */
export type ExportDimension = 'consumer' | 'plan' | 'api' | 'operation';
/** One page of one period's grouped billing rows: hours in [from, to), after the group `after` (keys in groupBy order). */
export interface ExportGroupQuery { from: number; to: number; groupBy: readonly ExportDimension[]; after: readonly string[] | null; limit: number }
/** A group's totals (`keys` in groupBy order); `requests` = allowed requests. */
export interface ExportGroupRow {
  keys: string[]; requests: number; units: number; rejectedQuota: number; rejectedAuth: number; rejectedForbidden: number; wouldReject: number; status: StatusCounts;
}

/** What GET /v1/usage/top ranks (docs/control.md). */
export type TopDimension = 'consumer' | 'key' | 'api' | 'operation' | 'plan';
/** The hours in [from, to) (both at hour starts), of one API and one outcome when given; at most `limit` groups. */
export interface TopQuery { by: TopDimension; from: number; to: number; limit: number; apiId?: string; outcome?: Outcome }
/**
 * One group's totals: `requests` (every outcome counted, or the asked one) and each outcome's count, `units`, `wouldReject`;
 * an operation's `apiId`, a key's `consumerId`.
 */
export interface TopRow {
  id: string; requests: number; allowed: number; rejectedQuota: number; rejectedAuth: number; rejectedForbidden: number; units: number; wouldReject: number;
  apiId?: string; consumerId?: string;
}

/** Grouped counts of one bucket and outcome, as a usage query reads them (`units`: only meaningful for allowed). */
export interface UsageQueryRow { start: number; outcome: string; count: number; units: number; wouldReject?: number; status: StatusCounts }

/**
 * Usage storage only (control/usage/ holds the rules: validation, scope, fleet replies, retention). A networked
 * backend implements the same methods; storeBatch is the one that must be atomic and idempotent by batch id.
 */
export interface UsageRepository {
  keyFacts(keyIds: readonly string[]): Promise<Map<string, KeyFacts>>;
  planFacts(planIds: readonly string[]): Promise<Map<string, PlanFacts>>;
  /** Which of these API ids exist. */
  existingApis(apiIds: readonly string[]): Promise<Set<string>>;
  /**
   * The granularities whose rows storeBatch writes (the others may be left empty). Absent: all three. PostgreSQL
   * writes minute rows only and folds them into hours and days in rollup().
   */
  readonly batchSizes?: readonly Granularity[];
  /**
   * Stores the batch id and, only if it was not stored before, its rows and fleet additions, in one transaction.
   * Resolves true when stored now, false for a duplicate; in both cases only once it is durable.
   */
  storeBatch(batch: StoredBatch): Promise<boolean>;
  /**
   * Folds minute rows not rolled up yet into the hour and day tables; returns how many. A backend that rolls up
   * inside storeBatch (SQLite: one writer) has nothing to do. Queries include rows not rolled up yet either way.
   */
  rollup(): Promise<number>;
  /** For each window: the sum of every reporter's count but `reporter`'s. */
  fleetOthers(windows: readonly FleetWindowKey[], reporter: string): Promise<number[]>;
  /**
   * Every reporter's count in these windows (each a size and its start). Optional: a backend that has it (PostgreSQL)
   * gets replies from a per-replica copy of the current windows (usage/fleet-cache.ts) instead of fleetOthers.
   */
  fleetCounts?(windows: readonly { per: FleetPer; windowStart: number }[]): Promise<FleetCount[]>;
  /**
   * Subscription windows (per scope, '' = unscoped) with counts in the window (every reporter but `reporter`), largest
   * first, at most `limit`.
   */
  fleetCurrent(per: FleetPer, windowStart: number, reporter: string, limit: number): Promise<{ planId: string; consumerId: string; scope: string; others: number }[]>;
  /** For each grant and period start: every reporter's spent units but `reporter`'s ('' → all of them). */
  creditOthers(grants: readonly { grant: string; from: number }[], reporter: string): Promise<number[]>;
  /** Every credit balance, in subscription order (a sync reply's; few compared to keys). */
  creditBalances(): Promise<CreditBalance[]>;
  /** Deletes fleet counts of windows that started before the cut-off of their size. */
  pruneFleet(before: Record<FleetPer, number>): Promise<void>;
  query(q: UsageQuery): Promise<UsageQueryRow[]>;
  /** The billing export: the first hour with billing rows in [from, to), or null (skips empty periods). */
  billingNextStart(from: number, to: number): Promise<number | null>;
  /** The billing export: one page of grouped rows, ordered by the dimensions (batches not rolled up yet included). */
  billingGroups(q: ExportGroupQuery): Promise<ExportGroupRow[]>;
  /** GET /v1/usage/top: groups by requests, largest first, ties by id (batches not rolled up yet included). */
  top(q: TopQuery): Promise<TopRow[]>;
  droppedTotal(): Promise<number>;
  /**
   * Retention: deletes minute usage that started before `before` (unix s). PostgreSQL drops whole daily partitions;
   * SQLite, which has none, deletes the rows. The hour and day rollups are kept: they serve long ranges.
   */
  dropUsageBefore(before: number): Promise<void>;
}

export interface SecretRepository {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
}

/** One key of a bulk import or bulk creation (a digest, never a plaintext key). `id`: keep the source's id. */
export interface ImportKey { id?: string; digest: string; consumerId: string; planId: string; expiresAt: number | null; prefix: string }
/** Per key of a bulk write: stored now, already stored with the same content (no new revision), or why refused. */
export type ImportOutcome = { created: string } | { unchanged: string } | { error: string };

/**
 * A snapshot page as read: the state and the scope's digest at the same instant as the keys. `hasCredits`: the scope
 * holds credit balances (pages of them follow the keys); only looked up when fewer than `limit` keys were read.
 */
export interface FeedSnapshotRead { state: FeedState; keys: FeedKey[]; digest: string; hasCredits: boolean }
/** A page of the scope's credit balances after subscription `after`, in subscription order, read as FeedSnapshotRead. */
export interface FeedCreditsRead { state: FeedState; credits: FeedCredit[]; digest: string }
/**
 * A delta as read: the state, the log rows in (since, revision] (at most `limit`, every scope's), the scope's changes
 * collapsed, and the scope's digest at `revision` (only meaningful when `more` is false).
 */
export interface FeedDeltaRead {
  state: FeedState; revision: number; more: boolean; rows: LoggedChange[]; changes: FeedChange[]; digest: string;
  /** The scope's balance changes in the same range, each subscription once at its latest state. */
  credits: FeedCreditChange[];
}

/**
 * The key feed (docs/key-feed.md): reads for the feed's routes, and the writes only the feed makes. Every key write
 * of KeyRepository (and a consumer's deletion) appends its change to the log in its own transaction; so do these.
 */
export interface KeyFeedRepository {
  /** With `targetId`, `scopeRevision` is that target's last scope change. */
  state(targetId?: string): Promise<FeedState>;
  /** Keys of the scope with digests after `after`, in digest order (keyset paging), at most `limit`. */
  snapshotPage(scope: ReporterScope, after: string | undefined, limit: number): Promise<FeedSnapshotRead>;
  /** The scope's credit balances with subscriptions after `after`, in subscription order (bytewise), at most `limit`. */
  creditPage(scope: ReporterScope, after: string, limit: number): Promise<FeedCreditsRead>;
  /** Call only when snapshotRequired() said deltas since `since` can be served (the state is re-read here). */
  deltas(scope: ReporterScope, since: number, limit: number): Promise<FeedDeltaRead>;
  /** Takes keys whose expiry passed at `now` out of the set (op expire), at most `limit`; returns how many. */
  sweepExpired(now: number, limit: number): Promise<number>;
  /** Drops log rows older than the history kept (rules.ts HISTORY_*), moving the horizon; returns how many. */
  prune(now: number): Promise<number>;
  /** Stores each key unless present (idempotent by id and digest), in one transaction; outcomes in input order. */
  importKeys(keys: readonly ImportKey[], now: number): Promise<ImportOutcome[]>;
  /**
   * Recomputes the plan digests from the keys (after an upgrade, or a copy by migrate-store); with `newEpoch`, also
   * starts a new revision history (head 0, empty log, a new epoch).
   */
  rebuild(newEpoch: boolean): Promise<void>;
}

/**
 * Credit balances (docs/control.md "Credits"). Every write appends to the key feed's log and folds into its digests in
 * its own transaction, as key writes do; the spend is the usage repository's.
 */
export interface CreditRepository {
  /** A new grant from `since` (ProblemError 422 for an unknown plan or consumer). */
  set(consumerId: string, planId: string, input: CreditInput): Promise<CreditBalance>;
  /** NotFoundError when the subscription has no balance. */
  get(consumerId: string, planId: string): Promise<CreditBalance>;
  /** The consumer's balances in plan order (NotFoundError for an unknown consumer). */
  listForConsumer(consumerId: string): Promise<CreditBalance[]>;
  /** NotFoundError when the subscription has no balance. */
  remove(consumerId: string, planId: string): Promise<void>;
}

export interface Store {
  apis: ApiRepository;
  plans: PlanRepository;
  consumers: ConsumerRepository;
  keys: KeyRepository;
  usage: UsageRepository;
  targets: TargetRepository;
  secrets: SecretRepository;
  keyFeed: KeyFeedRepository;
  /** Credit balances (control/credits/). */
  credits: CreditRepository;
  /** Service discovery's records (control/discovery/). */
  discovery: DiscoveryRepository;
  /** Fleet status: the latest proxy status per target, node and reporter (control/fleet/). */
  fleet: FleetStatusRepository;
  /** Everything the compiler reads, from one consistent read. */
  snapshot(): Promise<CatalogSnapshot>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
