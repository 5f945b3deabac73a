// Store snapshot → filter configuration (docs/filter-config.md). Pure and deterministic: every array is sorted by a
// total order, so the same state gives the same bytes whatever order it was written in, and the version is the
// SHA-256 of those bytes.
import { createHash } from 'node:crypto';
import {
  FILTER_CONFIG_VERSION, PERIODS, printFilterConfig, type FilterApi, type FilterConfig, type FilterPlan, type FilterUsage, type KeyRecord,
  type Limit,
} from '../../contracts/filter-config.js';
import { USAGE_REPORT_PATH } from '../../contracts/usage-report.js';
import type { CatalogSnapshot, Target } from '../store/types.js';


export interface CompileOptions {
  usage?: Omit<FilterUsage, 'path' | 'tokenHeader' | 'token'> & { reportToken: string };
  /** Keys that expired before this unix second are left out (the filter would reject them anyway). */
  now: number;
  /**
   * What the target covers and how it treats what it does not (default: every API, unmatched requests pass). A
   * restricted target gets only its APIs, the plans that include one of them (with only those), and their keys.
   */
  target?: Pick<Target, 'apiIds' | 'denyUnmatched' | 'passPathForms'>;
}

export interface CompiledConfig { config: FilterConfig; json: string; version: string }

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Longest prefix first so the filter's first match is the most specific API; ties by id. */
export function orderApis(apis: FilterApi[]): FilterApi[] {
  return [...apis].sort((a, b) => b.pathPrefix.length - a.pathPrefix.length || byString(a.id, b.id));
}

function sortLimits(limits: Limit[]): Limit[] {
  return [...limits].sort((a, b) => PERIODS.indexOf(a.per) - PERIODS.indexOf(b.per) || a.requests - b.requests);
}

export function compile(snapshot: Omit<CatalogSnapshot, 'targets'>, options: CompileOptions): CompiledConfig {
  const only = options.target === undefined || options.target.apiIds.length === 0 ? null : new Set(options.target.apiIds);
  const inTarget = (apiId: string): boolean => only === null || only.has(apiId);
  const apis = orderApis(snapshot.apis.filter((a) => inTarget(a.id)).map((a): FilterApi => ({
    id: a.id,
    pathPrefix: a.pathPrefix,
    ...(a.hosts.length > 0 ? { hosts: [...a.hosts].sort(byString) } : {}),
    ...(a.methods.length > 0 ? { methods: [...a.methods].sort(byString) } : {}),
  })));
  const plans = snapshot.plans
    .filter((p) => only === null || p.apiIds.some(inTarget))
    .map((p): FilterPlan => ({ id: p.id, limits: sortLimits(p.limits), apiIds: p.apiIds.filter(inTarget).sort(byString) }))
    .sort((a, b) => byString(a.id, b.id));
  const planIndex = new Map(plans.map((p, i) => [p.id, i]));
  const keys = snapshot.keys
    .filter((k) => k.expiresAt === null || k.expiresAt > options.now)
    .filter((k) => planIndex.has(k.planId))
    .sort((a, b) => byString(a.digest, b.digest))
    .map((k): KeyRecord => {
      const base: [string, string, string, number] = [k.digest, k.id, k.consumerId, planIndex.get(k.planId)!];
      return k.expiresAt === null ? base : [...base, k.expiresAt];
    });
  const config: FilterConfig = { version: FILTER_CONFIG_VERSION, apis, plans, keys };
  // Written only when they differ from the filter's defaults, so a default target compiles to the same bytes as before.
  if (options.target?.denyUnmatched === true) config.denyUnmatched = true;
  if (options.target !== undefined && options.target.passPathForms.length > 0) config.passPathForms = [...options.target.passPathForms].sort(byString);
  if (options.usage !== undefined) {
    const { reportToken, ...rest } = options.usage;
    config.usage = { ...rest, path: USAGE_REPORT_PATH, tokenHeader: 'authorization', token: `Bearer ${reportToken}` };
  }
  const json = printFilterConfig(config);
  return { config, json, version: createHash('sha256').update(json).digest('hex') };
}
