// Store records → REST bodies: unix seconds become ISO-8601 strings; nothing secret is ever in a view.
import type { Api, ApiKey, Consumer, Page, Plan } from '../../store/types.js';
import { encodeCursor } from '../../pagination.js';

export const iso = (t: number): string => new Date(t * 1000).toISOString();
export const isoOrNull = (t: number | null): string | null => (t === null ? null : iso(t));
export const unixOf = (isoString: string): number => Math.floor(Date.parse(isoString) / 1000);

export const apiView = (a: Api) => ({ ...a, createdAt: iso(a.createdAt), updatedAt: iso(a.updatedAt) });
export const planView = (p: Plan) => ({ ...p, createdAt: iso(p.createdAt), updatedAt: iso(p.updatedAt) });
export const consumerView = (c: Consumer) => ({ ...c, createdAt: iso(c.createdAt), updatedAt: iso(c.updatedAt) });

export function keyStatus(k: ApiKey, now: number): 'active' | 'revoked' | 'expired' | 'rotating' {
  if (k.revokedAt !== null) return 'revoked';
  if (k.expiresAt !== null && k.expiresAt <= now) return 'expired';
  return k.replacedBy !== null ? 'rotating' : 'active';
}

export const keyView = (k: ApiKey, now: number) => ({
  id: k.id, consumerId: k.consumerId, planId: k.planId, prefix: k.prefix, status: keyStatus(k, now),
  createdAt: iso(k.createdAt), expiresAt: isoOrNull(k.expiresAt), revokedAt: isoOrNull(k.revokedAt), replacedBy: k.replacedBy,
});

export function pageView<T extends { id: string }, V>(page: Page<T>, view: (item: T) => V): { items: V[]; nextCursor: string | null } {
  return { items: page.items.map(view), nextCursor: encodeCursor(page.nextCursor) };
}
