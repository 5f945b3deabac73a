// Store snapshot → filter configuration (docs/filter-config.md). Pure and deterministic: every array is sorted by a
// total order, so the same state gives the same bytes whatever order it was written in, and the version is the
// SHA-256 of those bytes.
import { createHash } from 'node:crypto';
import type { CatalogSnapshot, Limit, Per } from '../store/types.js';
import { canonicalJson } from './canonical-json.js';
import type { FilterApi, FilterConfig, FilterPlan, FilterUsage, KeyRecord } from './filter-config.js';

export const USAGE_PATH = '/v1/usage/reports';

export interface CompileOptions {
  usage?: Omit<FilterUsage, 'path' | 'tokenHeader' | 'token'> & { reportToken: string };
  /** Keys that expired before this unix second are left out (the filter would reject them anyway). */
  now: number;
}

export interface CompiledConfig { config: FilterConfig; json: string; version: string }

const PER_ORDER: Record<Per, number> = { second: 0, minute: 1, hour: 2, day: 3, month: 4 };
const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Longest prefix first so the filter's first match is the most specific API; ties by id. */
export function orderApis(apis: FilterApi[]): FilterApi[] {
  return [...apis].sort((a, b) => b.pathPrefix.length - a.pathPrefix.length || byString(a.id, b.id));
}

function sortLimits(limits: Limit[]): Limit[] {
  return [...limits].sort((a, b) => PER_ORDER[a.per] - PER_ORDER[b.per] || a.requests - b.requests);
}

export function compile(snapshot: CatalogSnapshot, options: CompileOptions): CompiledConfig {
  const apis = orderApis(snapshot.apis.map((a): FilterApi => ({
    id: a.id,
    pathPrefix: a.pathPrefix,
    ...(a.hosts.length > 0 ? { hosts: [...a.hosts].sort(byString) } : {}),
    ...(a.methods.length > 0 ? { methods: [...a.methods].sort(byString) } : {}),
  })));
  const plans = snapshot.plans
    .map((p): FilterPlan => ({ id: p.id, limits: sortLimits(p.limits), apiIds: [...p.apiIds].sort(byString) }))
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
  const config: FilterConfig = { version: 1, apis, plans, keys };
  if (options.usage !== undefined) {
    const { reportToken, ...rest } = options.usage;
    config.usage = { ...rest, path: USAGE_PATH, tokenHeader: 'authorization', token: `Bearer ${reportToken}` };
  }
  const json = canonicalJson(config);
  return { config, json, version: createHash('sha256').update(json).digest('hex') };
}
