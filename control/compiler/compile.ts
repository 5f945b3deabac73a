// Store snapshot → filter configuration (docs/filter-config.md). Pure and deterministic: every array is sorted by a
// total order, so the same state gives the same bytes whatever order it was written in, and the version is the
// SHA-256 of those bytes (printed without `configVersion`, which then carries it). Keys are not part of it: the filter pulls them from the key feed (docs/key-feed.md), so a
// key change never changes the configuration, and its size does not depend on the number of keys.
import { createHash } from 'node:crypto';
import {
  FILTER_CONFIG_VERSION, printFilterConfig, type FilterApi, type FilterConfig, type FilterKeyFeed, type FilterOperation, type FilterPlan,
  type FilterUsage, type NoKeysMode, type OperationLimit,
} from '../../contracts/filter-config.js';
import { normalLimit, sortLimits } from '../limit-rules.js';
import { KEY_FEED_DEFAULT_PAGE, KEY_FEED_DELTAS_PATH, KEY_FEED_SNAPSHOT_PATH } from '../../contracts/key-feed.js';
import { USAGE_REPORT_PATH } from '../../contracts/usage-report.js';
import type { ApiOperation, CatalogSnapshot, Target } from '../store/types.js';

/** What the compiler reads of the catalog: policy only (the store's snapshot has no keys; extra fields are ignored). */
export type PolicySnapshot = Pick<CatalogSnapshot, 'apis' | 'plans' | 'operations'>;

/**
 * Key-feed defaults: a long poll held 25 s (under the feed's 30 s maximum, and under the idle timeouts proxies commonly
 * put on upstream connections), the contract's page size, and a 2 s pause after a failed call.
 */
export const KEY_FEED_DEFAULTS = { waitS: 25, pageKeys: KEY_FEED_DEFAULT_PAGE, retryMs: 2000 } as const;

export interface CompileOptions {
  /** The control service the filter reports usage to and pulls keys from; absent → no usage and no key feed. */
  usage?: Omit<FilterUsage, 'path' | 'tokenHeader' | 'token'> & { reportToken: string };
  /** Overrides of the key-feed defaults; `whenNoKeys` is written only when it is "allow" (the filter's default is deny). */
  keyFeed?: Partial<Pick<FilterKeyFeed, 'waitS' | 'pageKeys' | 'retryMs'>> & { whenNoKeys?: NoKeysMode };
  /**
   * What the target covers and how it treats what it does not (default: every API, unmatched requests pass). A
   * restricted target gets only its APIs and the plans that include one of them (with only those).
   */
  target?: Pick<Target, 'apiIds' | 'denyUnmatched' | 'passPathForms' | 'rateLimitHeaderStyle' | 'shadowHeader'>;
}

export interface CompiledConfig { config: FilterConfig; json: string; version: string }

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Longest prefix first so the filter's first match is the most specific API; ties by id. */
export function orderApis(apis: FilterApi[]): FilterApi[] {
  return [...apis].sort((a, b) => b.pathPrefix.length - a.pathPrefix.length || byString(a.id, b.id));
}

/**
 * An API's operations as the filter takes them: by path then method (then id), so the bytes do not depend on the
 * document's order; `cost` only when it is not the default 1.
 */
function filterOperations(api: PolicySnapshot['apis'][number], ops: readonly ApiOperation[]): FilterOperation[] {
  return ops
    // The filter refuses a whole configuration holding an operation it could never reach (a method the API does not
    // take, a path outside its prefix). REST keeps the two consistent; this keeps one inconsistent API (a race between
    // a PATCH and an import) from stopping every other policy change from reaching the proxies.
    .filter((o) => (api.methods.length === 0 || api.methods.includes(o.method)) && liesUnder(o.path, api.pathPrefix))
    .map((o): FilterOperation => ({
      id: o.id, method: o.method, path: o.path, ...(o.cost !== 1 ? { cost: o.cost } : {}),
      ...(o.limits.length > 0 ? { limits: sortLimits(o.limits.map(operationLimit)) } : {}),
    }))
    .sort((a, b) => byString(a.path, b.path) || byString(a.method, b.method) || byString(a.id, b.id));
}

/** Whether a template lies under a prefix as the filter judges it: its bytes agree up to the prefix's end or to a
 * `{name}`/`*` segment (docs/filter-config.md "Operations"). */
export function liesUnder(path: string, prefix: string): boolean {
  for (let i = 0; i < prefix.length; i++) {
    if (path[i] === prefix[i]) continue;
    return i > 0 && path[i - 1] === '/' && (path[i] === '{' || path[i] === '*');
  }
  return true;
}

/** An operation's default limit with only the fields set (`shadow` only when true). */
function operationLimit(l: OperationLimit): OperationLimit {
  return { requests: l.requests, per: l.per, ...(l.id !== undefined ? { id: l.id } : {}), ...(l.shadow === true ? { shadow: true } : {}) };
}

export function compile(snapshot: PolicySnapshot, options: CompileOptions): CompiledConfig {
  const only = options.target === undefined || options.target.apiIds.length === 0 ? null : new Set(options.target.apiIds);
  const inTarget = (apiId: string): boolean => only === null || only.has(apiId);
  const opsByApi = new Map<string, ApiOperation[]>();
  for (const o of snapshot.operations ?? []) {
    const list = opsByApi.get(o.apiId);
    if (list === undefined) opsByApi.set(o.apiId, [o]);
    else list.push(o);
  }
  const apis = orderApis(snapshot.apis.filter((a) => inTarget(a.id)).map((a): FilterApi => {
    const ops = filterOperations(a, opsByApi.get(a.id) ?? []);
    return {
      id: a.id,
      pathPrefix: a.pathPrefix,
      ...(a.hosts.length > 0 ? { hosts: [...a.hosts].sort(byString) } : {}),
      ...(a.methods.length > 0 ? { methods: [...a.methods].sort(byString) } : {}),
      // An API without operations compiles exactly as before they existed (no `operations`, no `unknownOperation`).
      ...(ops.length > 0 ? { operations: ops } : {}),
      ...(ops.length > 0 && a.unknownOperation === 'pass' ? { unknownOperation: 'pass' as const } : {}),
    };
  }));
  // A scoped limit compiles only when what it names is in this configuration: its API (a restricted target drops the
  // others) and, for an operation, that operation (REST keeps them consistent; the compiler leaves out operations the
  // filter would refuse, and a limit naming one must go with it, or the filter would refuse the whole configuration).
  const compiledOps = new Map(apis.map((a) => [a.id, new Set((a.operations ?? []).map((o) => o.id))]));
  const plans = snapshot.plans
    .filter((p) => only === null || p.apiIds.some(inTarget))
    .map((p): FilterPlan => {
      const limits = p.limits.filter((l) => l.apiId === undefined
        || (inTarget(l.apiId) && p.apiIds.includes(l.apiId) && (l.operationId === undefined || compiledOps.get(l.apiId)?.has(l.operationId) === true)));
      return {
        id: p.id, limits: sortLimits(limits.map(normalLimit)), apiIds: p.apiIds.filter(inTarget).sort(byString),
        ...(p.shadow === true ? { shadow: true } : {}),
      };
    })
    .sort((a, b) => byString(a.id, b.id));
  // Never `keys`: they stay an optional static source for a filter run without a control service (replay, tests).
  const config: FilterConfig = { version: FILTER_CONFIG_VERSION, apis, plans };
  // Written only when they differ from the filter's defaults, so a default target compiles to the same bytes as before.
  if (options.target?.denyUnmatched === true) config.denyUnmatched = true;
  if (options.target !== undefined && options.target.passPathForms.length > 0) config.passPathForms = [...options.target.passPathForms].sort(byString);
  const style = options.target?.rateLimitHeaderStyle;
  if (style !== undefined && style !== 'legacy') config.rateLimitHeaderStyle = style;
  const shadowHeader = options.target?.shadowHeader;
  if (shadowHeader !== undefined && shadowHeader !== null) config.shadowHeader = shadowHeader;
  if (options.usage !== undefined) {
    const { reportToken, ...rest } = options.usage;
    config.usage = { ...rest, path: USAGE_REPORT_PATH, tokenHeader: 'authorization', token: `Bearer ${reportToken}` };
    // The feed rides on the usage endpoint (same cluster, authority and reporter credential): without it there is
    // nowhere to pull keys from, and a configuration without usage keeps meaning "static keys only".
    const { whenNoKeys, ...tuning } = options.keyFeed ?? {};
    config.keyFeed = {
      snapshotPath: KEY_FEED_SNAPSHOT_PATH, deltasPath: KEY_FEED_DELTAS_PATH, ...KEY_FEED_DEFAULTS, ...tuning,
      ...(whenNoKeys === 'allow' ? { whenNoKeys } : {}),
    };
  }
  // The version is the SHA-256 of the configuration printed without `configVersion`; the filter echoes the field in
  // its usage reports, so the version a proxy reports and the one the distributor ships are the same string.
  const version = createHash('sha256').update(printFilterConfig(config)).digest('hex');
  config.configVersion = version;
  return { config, json: printFilterConfig(config), version };
}
