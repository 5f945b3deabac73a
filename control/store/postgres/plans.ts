// Plans and the APIs they include, in PostgreSQL.
import type pg from 'pg';
import { ConflictError, NotFoundError, ProblemError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { PlanInput, PlanRepository } from '../repository.js';
import type { Page, PageRequest, Plan } from '../types.js';
import { FOREIGN_KEY_VIOLATION, pgCode, transaction, type Queryable } from './connection.js';
import { page, parseLimits, uniqueName, type Clock, type OnChange } from './shared.js';
import { lockKeyFeed, recordScopeChange, scopeTargets } from './keyfeed.js';
import { removeCreditsOf } from './credits.js';
import { targetsMovedByPlan } from '../../keyfeed/rules.js';
import { checkPlanLimits, namedOperations, normalLimit } from '../../limit-rules.js';

export interface PlanRow { id: string; name: string; limits: string; shadow: boolean; created_at: number; updated_at: number }

/** Plan rows with their API ids (one query for all of them). */
export async function toPlans(q: Queryable, rows: PlanRow[]): Promise<Plan[]> {
  if (rows.length === 0) return [];
  const links = await q.query<{ plan_id: string; api_id: string }>(
    'SELECT plan_id, api_id FROM plan_apis WHERE plan_id = ANY($1) ORDER BY plan_id, api_id', [rows.map((r) => r.id)]);
  const byPlan = new Map<string, string[]>();
  for (const l of links.rows) byPlan.set(l.plan_id, [...(byPlan.get(l.plan_id) ?? []), l.api_id]);
  return rows.map((r) => ({ id: r.id, name: r.name, limits: parseLimits(r.limits), apiIds: byPlan.get(r.id) ?? [], shadow: r.shadow === true, createdAt: r.created_at, updatedAt: r.updated_at }));
}

async function planRow(q: Queryable, id: string, lock = false): Promise<Plan> {
  const r = await q.query<PlanRow>(`SELECT * FROM plans WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  if (r.rows.length === 0) throw new NotFoundError('plan', id);
  return (await toPlans(q, r.rows))[0]!;
}

const unknownApi = (apiId: string): ProblemError => new ProblemError(422, 'Unknown reference', `apiIds: api '${apiId}' does not exist`);

async function setApis(c: Queryable, planId: string, apiIds: string[]): Promise<void> {
  const found = new Set((await c.query<{ id: string }>('SELECT id FROM apis WHERE id = ANY($1) FOR SHARE', [apiIds])).rows.map((r) => r.id));
  for (const apiId of apiIds) if (!found.has(apiId)) throw unknownApi(apiId);
  await c.query('DELETE FROM plan_apis WHERE plan_id = $1', [planId]);
  await c.query('INSERT INTO plan_apis (plan_id, api_id) SELECT $1, a FROM unnest($2::text[]) AS a ON CONFLICT DO NOTHING', [planId, apiIds]);
}

/**
 * 422 unless every limit's apiId is one of `apiIds` and every operationId an operation of that API. Operations named
 * are locked FOR SHARE: an import removing one waits for this transaction, then sees the plan that names it.
 */
async function checkLimits(c: Queryable, limits: PlanInput['limits'], apiIds: string[]): Promise<void> {
  const named = namedOperations(limits);
  const found = new Map<string, Set<string>>();
  if (named.length > 0) {
    const r = await c.query<{ api_id: string; id: string }>(
      'SELECT api_id, id FROM api_operations WHERE (api_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[])) FOR SHARE',
      [named.map((n) => n.apiId), named.map((n) => n.operationId)]);
    for (const row of r.rows) found.set(row.api_id, (found.get(row.api_id) ?? new Set()).add(row.id));
  }
  checkPlanLimits(limits, apiIds, (apiId) => found.get(apiId) ?? new Set());
}

export class PostgresPlans implements PlanRepository {
  constructor(private readonly pool: pg.Pool, private readonly now: Clock, private readonly changed: OnChange) {}

  async create(input: PlanInput): Promise<Plan> {
    const id = newId('pln');
    const t = this.now();
    const plan = await transaction(this.pool, async (c) => {
      await uniqueName('plan', input.name, () => c.query(
        'INSERT INTO plans (id, name, limits, shadow, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [id, input.name, JSON.stringify(input.limits.map(normalLimit)), input.shadow === true, t, t]));
      await setApis(c, id, input.apiIds);
      await checkLimits(c, input.limits, input.apiIds);
      return planRow(c, id);
    });
    this.changed();
    return plan;
  }

  async get(id: string): Promise<Plan> {
    return planRow(this.pool, id);
  }

  async list(p: PageRequest): Promise<Page<Plan>> {
    const r = await this.pool.query<PlanRow>('SELECT * FROM plans WHERE id > $1 ORDER BY id LIMIT $2', [p.after ?? '', p.limit + 1]);
    return page(await toPlans(this.pool, r.rows), p.limit);
  }

  async update(id: string, patch: Partial<PlanInput>): Promise<Plan> {
    const plan = await transaction(this.pool, async (c) => {
      // The key writers' lock before the plan's row lock, in the order key writers take them (no deadlock).
      if (patch.apiIds !== undefined) await lockKeyFeed(c);
      const next = { ...await planRow(c, id, true), ...patch };
      await uniqueName('plan', next.name, () => c.query('UPDATE plans SET name = $1, limits = $2, shadow = $3, updated_at = $4 WHERE id = $5',
        [next.name, JSON.stringify(next.limits.map(normalLimit)), next.shadow === true, this.now(), id]));
      // Either half may break the other: new limits naming an API the plan lacks, or apiIds dropping a limit's API.
      await checkLimits(c, next.limits, next.apiIds);
      const before = (await planRow(c, id)).apiIds;
      if (patch.apiIds !== undefined) await setApis(c, id, patch.apiIds);
      const after = await planRow(c, id);
      // Targets whose scope gains or loses this plan: their proxies take a fresh snapshot (docs/key-feed.md).
      if (patch.apiIds !== undefined) await recordScopeChange(c, targetsMovedByPlan(await scopeTargets(c), before, after.apiIds));
      return after;
    });
    this.changed();
    return plan;
  }

  async delete(id: string): Promise<void> {
    await transaction(this.pool, async (c) => {
      // First, as credit writers take it before they read the plan (no lock-order inversion with them).
      await lockKeyFeed(c);
      await planRow(c, id, true);
      const used = await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM api_keys WHERE plan_id = $1', [id]);
      if (used.rows[0]!.n > 0) throw new ConflictError(`plan '${id}' is used by ${used.rows[0]!.n} key(s)`);
      try {
        // Its credit balances go with it, each logged as removed (the key feed's deltas carry the removal).
        await removeCreditsOf(c, 'plan_id', id, this.now());
        await c.query('DELETE FROM plans WHERE id = $1', [id]);
        await c.query('DELETE FROM feed_plan_digests WHERE plan_id = $1', [id]);
      } catch (err) {
        // A key created for it since the count: the foreign key refuses, as the count would have.
        if (pgCode(err) === FOREIGN_KEY_VIOLATION) throw new ConflictError(`plan '${id}' is used by a key`);
        throw err;
      }
    });
    this.changed();
  }
}
