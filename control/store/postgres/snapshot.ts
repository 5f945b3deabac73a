// The compiler's view of the catalog (policy: no keys, however many there are), read in one REPEATABLE READ transaction
// so every table is seen at one instant.
import type pg from 'pg';
import type { CatalogSnapshot } from '../types.js';
import { toApi, type ApiRow } from './apis.js';
import { transaction } from './connection.js';
import { toPlans, type PlanRow } from './plans.js';
import { readTargets } from './targets.js';

export function readSnapshot(pool: pg.Pool): Promise<CatalogSnapshot> {
  return transaction(pool, async (c) => {
    const apis = (await c.query<ApiRow>('SELECT * FROM apis')).rows.map(toApi);
    const plans = await toPlans(c, (await c.query<PlanRow>('SELECT * FROM plans')).rows);
    return { apis, plans, targets: await readTargets(c) };
  }, { isolation: 'REPEATABLE READ', readOnly: true });
}
