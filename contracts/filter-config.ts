// Public format: the filter configuration (a WasmPlugin's pluginConfig), version 1. The contract is
// docs/filter-config.md and schemas/filter-config.v1.schema.json; the filter's decoder (assembly/config/decode.ts)
// mirrors it, and tests/contracts/agreement.test.ts proves the two agree.
import { canonicalJson } from './canonical-json.js';

export const FILTER_CONFIG_VERSION = 1;
export const FILTER_CONFIG_SCHEMA = 'schemas/filter-config.v1.schema.json';

/** Limit window sizes, smallest first (windows are fixed and aligned to UTC calendar boundaries). */
export const PERIODS = ['second', 'minute', 'hour', 'day', 'month'] as const;
export type Per = (typeof PERIODS)[number];
/** Window sizes whose counts the fleet shares (every period but the second). */
export const FLEET_PERIODS = ['minute', 'hour', 'day', 'month'] as const satisfies readonly Per[];
export type FleetPer = (typeof FLEET_PERIODS)[number];

/** Request targets other than origin-form that a target may let through without a key check. */
export const PATH_FORMS = ['asterisk', 'authority'] as const;
export type PathForm = (typeof PATH_FORMS)[number];

/**
 * A limit (docs/filter-config.md "Plan" and "Limits that compose"). `requests` is in units (a request spends its
 * operation's `cost`, 1 without operations). Scope: none → every request of the subscription; `apiId` → only requests
 * to that API; `apiId` + `operationId` → only requests to that operation. Every limit that applies to a request must
 * admit it (shadow limits never deny); an admitted request counts against all of them. All of a subscription's
 * counters live in one shared-data entry: one read and one CAS per request, whatever the number of limits.
 * `id` names the limit in a 429 (`limit` member) and in `RateLimit-Policy`; unique within the plan; default
 * `<per>`, `<apiId>:<per>` or `<apiId>/<operationId>:<per>`. `shadow`: decided and counted (`wouldReject` in usage
 * and the `tollgate_would_reject` metric), never enforced.
 */
export interface Limit { requests: number; per: Per; id?: string; apiId?: string; operationId?: string; shadow?: boolean }
/**
 * An operation's default limit: applies to every plan that includes the operation's API, scoped to the operation,
 * unless the plan has a limit with the same apiId, operationId and per (the plan's overrides it).
 */
export interface OperationLimit { requests: number; per: Per; id?: string; shadow?: boolean }
/** How rate-limit state is told to clients: today's `RateLimit-Limit`/`-Remaining`/`-Reset`, the IETF draft's
 * structured `RateLimit-Policy` + `RateLimit` fields, or both. */
export const RATE_LIMIT_HEADER_STYLES = ['legacy', 'ietf', 'both'] as const;
export type RateLimitHeaderStyle = (typeof RATE_LIMIT_HEADER_STYLES)[number];
/**
 * What a request to a known API (prefix, host and method matched) whose method and path match none of its operations
 * gets: "reject" (the default) → after the key check, 405 with `Allow` when the path matches an operation of another
 * method, else 404; "pass" → the key is checked and the request counted against the API as before operations existed.
 */
export const UNKNOWN_OPERATION_MODES = ['reject', 'pass'] as const;
export type UnknownOperationMode = (typeof UNKNOWN_OPERATION_MODES)[number];
/** Most operations one API may carry (an OpenAPI document of a large public API has a few hundred). */
export const MAX_OPERATIONS_PER_API = 4096;
/** Most units one request may spend (`cost`). */
export const MAX_OPERATION_COST = 1_000_000;
/**
 * One operation of an API (docs/filter-config.md "Operations"): `method` uppercase; `path` a template of the whole
 * request path (the API's base path included) in the filter's normalized form, whose segments are literals, `{name}`
 * (exactly one non-empty segment), or, as the last segment only, `*` (one or more segments). At each segment a literal
 * beats `{name}`, which beats `*`. `cost` (default 1; 0 = free): the units a request spends against every limit.
 */
export interface FilterOperation { id: string; method: string; path: string; cost?: number; limits?: OperationLimit[] }
export interface FilterApi {
  id: string; pathPrefix: string; hosts?: string[]; methods?: string[];
  /** Absent or empty: the API is its prefix, every request under it is one unit (the behaviour before operations). */
  operations?: FilterOperation[];
  /** Only with `operations`; default "reject". */
  unknownOperation?: UnknownOperationMode;
}
/** `shadow`: every limit of the plan (and every operation default under it) is a shadow limit. */
export interface FilterPlan { id: string; limits: Limit[]; apiIds: string[]; shadow?: boolean }
/** [digest, keyId, consumerId, planIndex, expiresAt?] */
export type KeyRecord = [string, string, string, number] | [string, string, string, number, number];
export interface FilterUsage {
  cluster: string; authority: string; path: string; intervalMs: number; timeoutMs: number; tokenHeader: string; token: string;
  coldStartShare?: number;
}
/** What the filter does while its process holds no key set yet (started while the control service was down). */
export const NO_KEYS_MODES = ['deny', 'allow'] as const;
export type NoKeysMode = (typeof NO_KEYS_MODES)[number];
/**
 * Where the filter pulls keys from (docs/key-feed.md): the control service named by `usage` (same cluster, authority,
 * timeout and credential). `waitS`: long-poll wait asked of the deltas endpoint; `pageKeys`: snapshot page size;
 * `retryMs`: pause after a failed call. `whenNoKeys` (default "deny": 401 for every key until the first snapshot).
 */
export interface FilterKeyFeed {
  snapshotPath: string; deltasPath: string; waitS: number; pageKeys: number; retryMs: number; whenNoKeys?: NoKeysMode;
}
/**
 * `keys`: static keys, for a filter run without a control service (tests, replay, standalone). The compiler never
 * writes them: a WasmPlugin carries `keyFeed` instead, so its size does not depend on the number of keys. Both
 * optional fields are additive (docs/filter-config.md): version 1 still.
 */
export interface FilterConfig {
  version: typeof FILTER_CONFIG_VERSION; apis: FilterApi[]; plans: FilterPlan[]; keys?: KeyRecord[]; usage?: FilterUsage;
  keyFeed?: FilterKeyFeed; denyUnmatched?: boolean; passPathForms?: PathForm[];
  /** Default "legacy". */
  rateLimitHeaderStyle?: RateLimitHeaderStyle;
  /** When set, a request a shadow limit would have rejected reaches the upstream with this header naming the limit. */
  shadowHeader?: string;
  /**
   * The compiler's version of this configuration: SHA-256 hex of the configuration printed without this field. The
   * filter echoes it in usage reports (`proxy.configVersion`) so the control service can tell which proxies converged.
   * Additive in version 1.
   */
  configVersion?: string;
}

/** The bytes Envoy hands the filter (what Istio prints of the Struct); the compiler hashes them into the version. */
export function printFilterConfig(config: FilterConfig): string {
  return canonicalJson(config);
}
