// Plans and the APIs they include, in SQLite.
import { ConflictError, NotFoundError, ProblemError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { PlanInput, PlanRepository } from '../repository.js';
import type { Page, PageRequest, Plan } from '../types.js';
import type { Db } from './open.js';
import { recordScopeChange, scopeTargets } from './keyfeed.js';
import { removeCreditsOf } from './credits.js';
import { targetsMovedByPlan } from '../../keyfeed/rules.js';
import { page, parseLimits, uniqueName, type Clock, type Durable, type OnChange } from './shared.js';
import { checkPlanLimits, namedOperations, normalLimit } from '../../limit-rules.js';

export interface PlanRow { id: string; name: string; limits: string; shadow: number; created_at: number; updated_at: number }

export class SqlitePlans implements PlanRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange, private readonly durable: Durable) {}

  private apiIds(planId: string): string[] {
    return (this.db.prepare('SELECT api_id FROM plan_apis WHERE plan_id = ? ORDER BY api_id').all(planId) as { api_id: string }[]).map((r) => r.api_id);
  }

  private toPlan(r: PlanRow): Plan {
    return { id: r.id, name: r.name, limits: parseLimits(r.limits), apiIds: this.apiIds(r.id), shadow: r.shadow === 1, createdAt: r.created_at, updatedAt: r.updated_at };
  }

  private row(id: string): Plan {
    const r = this.db.prepare('SELECT * FROM plans WHERE id = ?').get(id) as PlanRow | undefined;
    if (r === undefined) throw new NotFoundError('plan', id);
    return this.toPlan(r);
  }

  private setApis(planId: string, apiIds: string[]): void {
    const exists = this.db.prepare('SELECT 1 FROM apis WHERE id = ?');
    for (const apiId of apiIds) {
      if (exists.get(apiId) === undefined) throw new ProblemError(422, 'Unknown reference', `apiIds: api '${apiId}' does not exist`);
    }
    this.db.prepare('DELETE FROM plan_apis WHERE plan_id = ?').run(planId);
    const insert = this.db.prepare('INSERT OR IGNORE INTO plan_apis (plan_id, api_id) VALUES (?, ?)');
    for (const apiId of apiIds) insert.run(planId, apiId);
  }

  /** 422 unless every limit's apiId is one of `apiIds` and every operationId an operation of that API (read here, in the writing transaction). */
  private checkLimits(limits: PlanInput['limits'], apiIds: string[]): void {
    const found = new Map<string, Set<string>>();
    const exists = this.db.prepare('SELECT 1 FROM api_operations WHERE api_id = ? AND id = ?');
    for (const n of namedOperations(limits)) {
      if (exists.get(n.apiId, n.operationId) === undefined) continue;
      found.set(n.apiId, (found.get(n.apiId) ?? new Set()).add(n.operationId));
    }
    checkPlanLimits(limits, apiIds, (apiId) => found.get(apiId) ?? new Set());
  }

  async create(input: PlanInput): Promise<Plan> {
    const id = newId('pln');
    const t = this.now();
    this.db.transaction(() => {
      uniqueName('plan', input.name, () => this.db.prepare(
        'INSERT INTO plans (id, name, limits, shadow, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(id, input.name, JSON.stringify(input.limits.map(normalLimit)), input.shadow === true ? 1 : 0, t, t));
      this.setApis(id, input.apiIds);
      this.checkLimits(input.limits, input.apiIds);
    }).immediate();
    this.changed();
    await this.durable();
    return this.row(id);
  }

  async get(id: string): Promise<Plan> {
    return this.row(id);
  }

  async list(p: PageRequest): Promise<Page<Plan>> {
    const rows = this.db.prepare('SELECT * FROM plans WHERE id > ? ORDER BY id LIMIT ?').all(p.after ?? '', p.limit + 1) as PlanRow[];
    return page(rows.map((r) => this.toPlan(r)), p.limit);
  }

  async update(id: string, patch: Partial<PlanInput>): Promise<Plan> {
    this.db.transaction(() => {
      const next = { ...this.row(id), ...patch };
      uniqueName('plan', next.name, () => this.db.prepare('UPDATE plans SET name = ?, limits = ?, shadow = ?, updated_at = ? WHERE id = ?')
        .run(next.name, JSON.stringify(next.limits.map(normalLimit)), next.shadow === true ? 1 : 0, this.now(), id));
      // Either half may break the other: new limits naming an API the plan lacks, or apiIds dropping a limit's API.
      this.checkLimits(next.limits, next.apiIds);
      if (patch.apiIds !== undefined) {
        const before = this.apiIds(id);
        this.setApis(id, patch.apiIds);
        // Targets whose scope gains or loses this plan: their proxies take a fresh snapshot (docs/key-feed.md).
        recordScopeChange(this.db, targetsMovedByPlan(scopeTargets(this.db), before, this.apiIds(id)));
      }
    }).immediate();
    this.changed();
    await this.durable();
    return this.row(id);
  }

  async delete(id: string): Promise<void> {
    this.row(id);
    const used = this.db.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE plan_id = ?').get(id) as { n: number };
    if (used.n > 0) throw new ConflictError(`plan '${id}' is used by ${used.n} key(s)`);
    this.db.transaction(() => {
      // Its credit balances go with it, each logged as removed (the key feed's deltas carry the removal).
      removeCreditsOf(this.db, 'plan_id', id, this.now());
      this.db.prepare('DELETE FROM plans WHERE id = ?').run(id);
      this.db.prepare('DELETE FROM feed_plan_digests WHERE plan_id = ?').run(id);
    }).immediate();
    this.changed();
    await this.durable();
  }
}

