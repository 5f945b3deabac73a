// A targets row as both backends store it (JSON text for the lists, the credentials as they are) and the record it
// reads as. SQLite keeps the flag as 0/1, PostgreSQL as a boolean.
import type { ResourceKind } from '../../contracts/resources.js';
import type { PathForm, RateLimitHeaderStyle, Target, TargetWithCredentials } from './types.js';

export interface TargetRow {
  id: string; name: string; namespace: string; selector: string | null; target_refs: string | null; api_ids: string;
  deny_unmatched: number | boolean; pass_path_forms: string; rate_limit_header_style: string; shadow_header: string | null; report_token: string; previous_report_token: string | null;
  previous_valid_until: number | null; created_at: number; updated_at: number;
  /** Migration 014 (absent in a row read before it: WasmPlugin, no pull secret). */
  resource_kind?: string; image_pull_secret?: string | null;
}

export function targetFromRow(r: TargetRow): TargetWithCredentials {
  return {
    id: r.id, name: r.name, namespace: r.namespace,
    selector: r.selector === null ? null : JSON.parse(r.selector) as Record<string, string>,
    targetRefs: r.target_refs === null ? null : JSON.parse(r.target_refs) as Target['targetRefs'],
    apiIds: JSON.parse(r.api_ids) as string[],
    denyUnmatched: r.deny_unmatched === true || r.deny_unmatched === 1,
    passPathForms: JSON.parse(r.pass_path_forms) as PathForm[],
    rateLimitHeaderStyle: r.rate_limit_header_style as RateLimitHeaderStyle, shadowHeader: r.shadow_header,
    kind: (r.resource_kind ?? 'WasmPlugin') as ResourceKind, imagePullSecret: r.image_pull_secret ?? null,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
    reportToken: r.report_token, previousReportToken: r.previous_report_token,
    previousValidUntil: r.previous_valid_until === null ? null : Number(r.previous_valid_until),
  };
}
