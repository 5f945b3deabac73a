// The compiler's view of the catalog, read in one REPEATABLE READ transaction so every table is seen at one instant.
import type pg from 'pg';
import type { CatalogSnapshot, CompilableKey } from '../types.js';
import { toApi, type ApiRow } from './apis.js';
import { transaction } from './connection.js';
import type { KeyRow } from './keys.js';
import { toPlans, type PlanRow } from './plans.js';
import { readTargets } from './targets.js';

export function readSnapshot(pool: pg.Pool): Promise<CatalogSnapshot> {
  return transaction(pool, async (c) => {
    const apis = (await c.query<ApiRow>('SELECT * FROM apis')).rows.map(toApi);
    const plans = await toPlans(c, (await c.query<PlanRow>('SELECT * FROM plans')).rows);
    const keys = (await c.query<KeyRow>('SELECT id, digest, consumer_id, plan_id, expires_at FROM api_keys WHERE revoked_at IS NULL')).rows
      .map((r): CompilableKey => ({ id: r.id, digest: r.digest, consumerId: r.consumer_id, planId: r.plan_id, expiresAt: r.expires_at }));
    return { apis, plans, keys, targets: await readTargets(c) };
  }, { isolation: 'REPEATABLE READ', readOnly: true });
}
