// The compiler's view of the catalog (policy: no keys, however many there are), read in one transaction so it is consistent.
import type { CatalogSnapshot, Plan } from '../types.js';
import type { ApiRow } from './apis.js';
import { API_COLUMNS, toApi, toOperation, type OperationRow } from './apis.js';
import type { PlanRow } from './plans.js';
import type { Db } from './open.js';
import { readTargets } from './targets.js';
import { parseLimits } from './shared.js';

export function readSnapshot(db: Db): CatalogSnapshot {
  return db.transaction(() => {
    const apis = (db.prepare(`SELECT ${API_COLUMNS} FROM apis`).all() as ApiRow[]).map(toApi);
    const operations = (db.prepare('SELECT * FROM api_operations').all() as OperationRow[]).map(toOperation);
    const links = db.prepare('SELECT plan_id, api_id FROM plan_apis').all() as { plan_id: string; api_id: string }[];
    const byPlan = new Map<string, string[]>();
    for (const l of links) byPlan.set(l.plan_id, [...(byPlan.get(l.plan_id) ?? []), l.api_id]);
    const plans = (db.prepare('SELECT * FROM plans').all() as PlanRow[]).map((r): Plan => ({
      id: r.id, name: r.name, limits: parseLimits(r.limits), apiIds: byPlan.get(r.id) ?? [], shadow: r.shadow === 1, createdAt: r.created_at, updatedAt: r.updated_at,
    }));
    return { apis, plans, targets: readTargets(db), operations };
  })();
}
