// The filter configuration, version 1, as TypeScript types (docs/filter-config.md is the contract).
import type { Limit, PathForm } from '../store/types.js';

export interface FilterApi { id: string; pathPrefix: string; hosts?: string[]; methods?: string[] }
export interface FilterPlan { id: string; limits: Limit[]; apiIds: string[] }
/** [digest, keyId, consumerId, planIndex, expiresAt?] */
export type KeyRecord = [string, string, string, number] | [string, string, string, number, number];
export interface FilterUsage {
  cluster: string; authority: string; path: string; intervalMs: number; timeoutMs: number; tokenHeader: string; token: string;
}
export interface FilterConfig {
  version: 1; apis: FilterApi[]; plans: FilterPlan[]; keys: KeyRecord[]; usage?: FilterUsage;
  denyUnmatched?: boolean; passPathForms?: PathForm[];
}
