// Records the store holds. Times are unix seconds inside the service; REST turns them into ISO-8601 strings.
// The public formats' vocabulary (periods, outcomes, status classes, report shapes) is the contracts' (contracts/).
import type { FleetPer, Limit, OperationLimit, PathForm, Per, RateLimitHeaderStyle, UnknownOperationMode } from '../../contracts/filter-config.js';
import type { ResourceKind } from '../../contracts/resources.js';
import type { FleetWindow, Outcome, OutcomeRestField, StatusClass, StatusCounts, UsageEntry, UsageReport } from '../../contracts/usage-report.js';

export { STATUS_CLASSES } from '../../contracts/usage-report.js';
export type { FleetPer, FleetWindow, Limit, OperationLimit, Outcome, RateLimitHeaderStyle, PathForm, Per, StatusClass, StatusCounts, UnknownOperationMode, UsageEntry, UsageReport };

export interface Api {
  id: string; name: string; pathPrefix: string; hosts: string[]; methods: string[]; createdAt: number; updatedAt: number;
  /** What a request matching none of its operations gets (only meaningful with operations). */
  unknownOperation: UnknownOperationMode;
  /** The OpenAPI document it was last imported from (null: made by hand). */
  importedFrom: ImportSource | null;
  operationCount: number;
}
export interface ImportSource { title: string; version: string; sha256: string }
export const VISIBILITIES = ['public', 'internal'] as const;
export type Visibility = (typeof VISIBILITIES)[number];
/**
 * One operation of an API (from an OpenAPI import). `key`: what keeps `id` across re-imports (the operationId, else
 * "METHOD template" as the document spells the template); `path`: the whole request path template in the filter's
 * normalized form, base path applied; `position`: its order in the document. `limits`: its default limits
 * (x-tollgate `limits`), applied in every plan that includes its API unless the plan overrides them.
 */
export interface ApiOperation {
  id: string; apiId: string; key: string; operationId: string | null; method: string; path: string; cost: number;
  visibility: Visibility; summary: string | null; position: number; limits: OperationLimit[];
}
/** `shadow`: every limit of the plan (and every operation default under it) is decided and counted, never enforced. */
export interface Plan { id: string; name: string; limits: Limit[]; apiIds: string[]; shadow: boolean; createdAt: number; updatedAt: number }
export interface Consumer { id: string; name: string; createdAt: number; updatedAt: number }
export interface ApiKey {
  id: string;
  consumerId: string;
  planId: string;
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  /** Set on a rotated predecessor: the key that replaced it. */
  replacedBy: string | null;
}
/** What the compiler needs of a key: never the plaintext, only its digest. */
export interface CompilableKey { id: string; digest: string; consumerId: string; planId: string; expiresAt: number | null }

export interface Page<T> { items: T[]; nextCursor: string | null }
export interface PageRequest { limit: number; after: string | undefined }

/** An API as policy: what the compiler reads (`unknownOperation` absent = the default, "reject"). */
export type CatalogApi = Omit<Api, 'unknownOperation' | 'importedFrom' | 'operationCount'> & Partial<Pick<Api, 'unknownOperation'>>;
/**
 * Policy, as the compiler and distributor read it: keys are not part of it (they travel over the key feed).
 * `operations`: every API's (absent = none: every API is its prefix).
 */
/** A plan as policy (`shadow` absent = false). */
export type CatalogPlan = Omit<Plan, 'shadow'> & Partial<Pick<Plan, 'shadow'>>;
export interface CatalogSnapshot { apis: CatalogApi[]; plans: CatalogPlan[]; targets: TargetWithCredentials[]; operations?: ApiOperation[] }

/** `refused`: entries left out because they fall outside the reporter's scope or the accepted time range. */
/** `wouldReject`: the stored entries' would-be rejections (0 for a duplicate). */
export interface IngestResult { duplicate: boolean; fleet: FleetWindow[]; entries: number; dropped: number; refused: number; wouldReject: number }

/**
 * Where one compiled configuration goes (one WasmPlugin) and what it covers. `apiIds` empty = every API. The
 * reporter credential is scoped to the target: it reports only for the APIs and subscriptions the target was given.
 */
export interface Target {
  id: string;
  name: string;
  namespace: string;
  selector: Record<string, string> | null;
  targetRefs: { group: string; kind: string; name: string; sectionName?: string }[] | null;
  apiIds: string[];
  denyUnmatched: boolean;
  passPathForms: PathForm[];
  /** How its filter tells clients about limits (default "legacy": RateLimit-Limit/-Remaining/-Reset). */
  rateLimitHeaderStyle?: RateLimitHeaderStyle;
  /** The request header naming a shadow limit that would have rejected (null: none is added). */
  shadowHeader?: string | null;
  /** The resource kind its configuration ships as (absent = WasmPlugin; contracts/resources.ts). */
  kind?: ResourceKind;
  /** A Secret in the target's namespace with registry credentials for the filter image (null/absent: none). */
  imagePullSecret?: string | null;
  createdAt: number;
  updatedAt: number;
}
/** A target with its reporter credentials (only the compiler and the credential check see these). */
export interface TargetWithCredentials extends Target {
  reportToken: string;
  previousReportToken: string | null;
  previousValidUntil: number | null;
}
/** What a reporter credential may report for: its target's APIs (null = every API). */
export interface ReporterScope { targetId: string; apiIds: ReadonlySet<string> | null }

export type Granularity = 'minute' | 'hour' | 'day';
export interface UsageQuery { keyId?: string; consumerId?: string; apiId?: string; from: number; to: number; granularity: Granularity }
/**
 * Requests per outcome, by the outcomes' REST field names (contracts/usage-report.ts OUTCOME_EDGES), and `units`: what
 * the allowed requests spent against quota (operation costs; one per request where none applies); `wouldReject`: how
 * many allowed requests a shadow limit would have rejected.
 */
export type UsageCounts = Record<OutcomeRestField, number> & { units: number; wouldReject: number };
/** `upstreamStatus`: response status classes of the allowed requests. */
export interface UsageSeriesPoint extends UsageCounts { start: number; upstreamStatus: StatusCounts }
export interface UsageSummary { totals: UsageCounts; upstreamStatus: StatusCounts; series: UsageSeriesPoint[] }
