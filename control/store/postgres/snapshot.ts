// The compiler's view of the catalog (policy: no keys, however many there are), read in one REPEATABLE READ transaction
// so every table is seen at one instant.
import type pg from 'pg';
import type { CatalogSnapshot } from '../types.js';
import { API_COLUMNS, toApi, toOperation, type ApiRow, type OperationRow } from './apis.js';
import { transaction } from './connection.js';
import { toPlans, type PlanRow } from './plans.js';
import { readTargets } from './targets.js';

export function readSnapshot(pool: pg.Pool): Promise<CatalogSnapshot> {
  return transaction(pool, async (c) => {
    const apis = (await c.query<ApiRow>(`SELECT ${API_COLUMNS} FROM apis`)).rows.map(toApi);
    const operations = (await c.query<OperationRow>('SELECT * FROM api_operations')).rows.map(toOperation);
    const plans = await toPlans(c, (await c.query<PlanRow>('SELECT * FROM plans')).rows);
    return { apis, plans, targets: await readTargets(c), operations };
  }, { isolation: 'REPEATABLE READ', readOnly: true });
}
