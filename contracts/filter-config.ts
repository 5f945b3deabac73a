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

export interface Limit { requests: number; per: Per }
export interface FilterApi { id: string; pathPrefix: string; hosts?: string[]; methods?: string[] }
export interface FilterPlan { id: string; limits: Limit[]; apiIds: string[] }
/** [digest, keyId, consumerId, planIndex, expiresAt?] */
export type KeyRecord = [string, string, string, number] | [string, string, string, number, number];
export interface FilterUsage {
  cluster: string; authority: string; path: string; intervalMs: number; timeoutMs: number; tokenHeader: string; token: string;
  coldStartShare?: number;
}
export interface FilterConfig {
  version: typeof FILTER_CONFIG_VERSION; apis: FilterApi[]; plans: FilterPlan[]; keys: KeyRecord[]; usage?: FilterUsage;
  denyUnmatched?: boolean; passPathForms?: PathForm[];
}

/** The bytes Envoy hands the filter (what Istio prints of the Struct); the compiler hashes them into the version. */
export function printFilterConfig(config: FilterConfig): string {
  return canonicalJson(config);
}
