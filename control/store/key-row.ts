// An api_keys row as both backends store it (digest and display prefix only, never the key) and the record it reads as.
import type { ApiKey } from './types.js';

export interface KeyRow {
  id: string; consumer_id: string; plan_id: string; digest: string; prefix: string; created_at: number;
  expires_at: number | null; revoked_at: number | null; replaced_by: string | null;
}

export const keyFromRow = (r: KeyRow): ApiKey => ({
  id: r.id, consumerId: r.consumer_id, planId: r.plan_id, prefix: r.prefix, createdAt: r.created_at,
  expiresAt: r.expires_at, revokedAt: r.revoked_at, replacedBy: r.replaced_by,
});
