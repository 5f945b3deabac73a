// APIs, plans, consumers and keys in SQLite.
import { ConflictError, NotFoundError, ProblemError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type {
  ApiInput, ApiRepository, ConsumerRepository, KeyRepository, NewKeyRecord, PlanInput, PlanRepository,
} from '../repository.js';
import type { Api, ApiKey, CatalogSnapshot, CompilableKey, Consumer, Limit, Page, PageRequest, Plan } from '../types.js';
import { isConstraint, type Db } from './open.js';

type Clock = () => number;
type OnChange = () => void;

function page<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
}

function uniqueName<T>(resource: string, name: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (isConstraint(err, 'SQLITE_CONSTRAINT_UNIQUE')) throw new ConflictError(`${resource} name '${name}' is already used`);
    throw err;
  }
}

interface ApiRow { id: string; name: string; path_prefix: string; hosts: string; methods: string; created_at: number; updated_at: number }
const toApi = (r: ApiRow): Api => ({
  id: r.id, name: r.name, pathPrefix: r.path_prefix, hosts: JSON.parse(r.hosts) as string[],
  methods: JSON.parse(r.methods) as string[], createdAt: r.created_at, updatedAt: r.updated_at,
});

export class SqliteApis implements ApiRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange) {}

  private row(id: string): Api {
    const r = this.db.prepare('SELECT * FROM apis WHERE id = ?').get(id) as ApiRow | undefined;
    if (r === undefined) throw new NotFoundError('api', id);
    return toApi(r);
  }

  async create(input: ApiInput): Promise<Api> {
    const id = newId('api');
    const t = this.now();
    uniqueName('api', input.name, () => this.db.prepare(
      'INSERT INTO apis (id, name, path_prefix, hosts, methods, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run(id, input.name, input.pathPrefix, JSON.stringify(input.hosts), JSON.stringify(input.methods), t, t));
    this.changed();
    return this.row(id);
  }

  async get(id: string): Promise<Api> {
    return this.row(id);
  }

  async list(p: PageRequest): Promise<Page<Api>> {
    const rows = this.db.prepare('SELECT * FROM apis WHERE id > ? ORDER BY id LIMIT ?').all(p.after ?? '', p.limit + 1) as ApiRow[];
    return page(rows.map(toApi), p.limit);
  }

  async update(id: string, patch: Partial<ApiInput>): Promise<Api> {
    const next = { ...this.row(id), ...patch };
    uniqueName('api', next.name, () => this.db.prepare(
      'UPDATE apis SET name = ?, path_prefix = ?, hosts = ?, methods = ?, updated_at = ? WHERE id = ?',
    ).run(next.name, next.pathPrefix, JSON.stringify(next.hosts), JSON.stringify(next.methods), this.now(), id));
    this.changed();
    return this.row(id);
  }

  async delete(id: string): Promise<void> {
    this.row(id);
    const users = this.db.prepare('SELECT plan_id FROM plan_apis WHERE api_id = ? ORDER BY plan_id LIMIT 5').all(id) as { plan_id: string }[];
    if (users.length > 0) throw new ConflictError(`api '${id}' is used by plan(s) ${users.map((u) => u.plan_id).join(', ')}`);
    this.db.prepare('DELETE FROM apis WHERE id = ?').run(id);
    this.changed();
  }
}

interface PlanRow { id: string; name: string; limits: string; created_at: number; updated_at: number }

export class SqlitePlans implements PlanRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange) {}

  private apiIds(planId: string): string[] {
    return (this.db.prepare('SELECT api_id FROM plan_apis WHERE plan_id = ? ORDER BY api_id').all(planId) as { api_id: string }[]).map((r) => r.api_id);
  }

  private toPlan(r: PlanRow): Plan {
    return { id: r.id, name: r.name, limits: JSON.parse(r.limits) as Limit[], apiIds: this.apiIds(r.id), createdAt: r.created_at, updatedAt: r.updated_at };
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

  async create(input: PlanInput): Promise<Plan> {
    const id = newId('pln');
    const t = this.now();
    this.db.transaction(() => {
      uniqueName('plan', input.name, () => this.db.prepare(
        'INSERT INTO plans (id, name, limits, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      ).run(id, input.name, JSON.stringify(input.limits), t, t));
      this.setApis(id, input.apiIds);
    }).immediate();
    this.changed();
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
      uniqueName('plan', next.name, () => this.db.prepare('UPDATE plans SET name = ?, limits = ?, updated_at = ? WHERE id = ?')
        .run(next.name, JSON.stringify(next.limits), this.now(), id));
      if (patch.apiIds !== undefined) this.setApis(id, patch.apiIds);
    }).immediate();
    this.changed();
    return this.row(id);
  }

  async delete(id: string): Promise<void> {
    this.row(id);
    const used = this.db.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE plan_id = ?').get(id) as { n: number };
    if (used.n > 0) throw new ConflictError(`plan '${id}' is used by ${used.n} key(s)`);
    this.db.prepare('DELETE FROM plans WHERE id = ?').run(id);
    this.changed();
  }
}

interface ConsumerRow { id: string; name: string; created_at: number; updated_at: number }
const toConsumer = (r: ConsumerRow): Consumer => ({ id: r.id, name: r.name, createdAt: r.created_at, updatedAt: r.updated_at });

export class SqliteConsumers implements ConsumerRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange) {}

  private row(id: string): Consumer {
    const r = this.db.prepare('SELECT * FROM consumers WHERE id = ?').get(id) as ConsumerRow | undefined;
    if (r === undefined) throw new NotFoundError('consumer', id);
    return toConsumer(r);
  }

  async create(name: string): Promise<Consumer> {
    const id = newId('con');
    const t = this.now();
    uniqueName('consumer', name, () => this.db.prepare('INSERT INTO consumers (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)').run(id, name, t, t));
    return this.row(id);
  }

  async get(id: string): Promise<Consumer> {
    return this.row(id);
  }

  async list(p: PageRequest): Promise<Page<Consumer>> {
    const rows = this.db.prepare('SELECT * FROM consumers WHERE id > ? ORDER BY id LIMIT ?').all(p.after ?? '', p.limit + 1) as ConsumerRow[];
    return page(rows.map(toConsumer), p.limit);
  }

  async rename(id: string, name: string): Promise<Consumer> {
    this.row(id);
    uniqueName('consumer', name, () => this.db.prepare('UPDATE consumers SET name = ?, updated_at = ? WHERE id = ?').run(name, this.now(), id));
    return this.row(id);
  }

  async delete(id: string): Promise<void> {
    this.row(id);
    this.db.prepare('DELETE FROM consumers WHERE id = ?').run(id);
    this.changed();
  }
}

interface KeyRow {
  id: string; consumer_id: string; plan_id: string; digest: string; prefix: string; created_at: number;
  expires_at: number | null; revoked_at: number | null; replaced_by: string | null;
}
const toKey = (r: KeyRow): ApiKey => ({
  id: r.id, consumerId: r.consumer_id, planId: r.plan_id, prefix: r.prefix, createdAt: r.created_at,
  expiresAt: r.expires_at, revokedAt: r.revoked_at, replacedBy: r.replaced_by,
});

export class SqliteKeys implements KeyRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange) {}

  private row(id: string): ApiKey {
    const r = this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow | undefined;
    if (r === undefined) throw new NotFoundError('key', id);
    return toKey(r);
  }

  private insert(id: string, r: NewKeyRecord): void {
    if (this.db.prepare('SELECT 1 FROM consumers WHERE id = ?').get(r.consumerId) === undefined) throw new NotFoundError('consumer', r.consumerId);
    if (this.db.prepare('SELECT 1 FROM plans WHERE id = ?').get(r.planId) === undefined) {
      throw new ProblemError(422, 'Unknown reference', `planId: plan '${r.planId}' does not exist`);
    }
    this.db.prepare(
      'INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run(id, r.consumerId, r.planId, r.digest, r.prefix, this.now(), r.expiresAt);
  }

  async create(record: NewKeyRecord): Promise<ApiKey> {
    const id = newId('key');
    this.insert(id, record);
    this.changed();
    return this.row(id);
  }

  async get(id: string): Promise<ApiKey> {
    return this.row(id);
  }

  async listForConsumer(consumerId: string, p: PageRequest): Promise<Page<ApiKey>> {
    if (this.db.prepare('SELECT 1 FROM consumers WHERE id = ?').get(consumerId) === undefined) throw new NotFoundError('consumer', consumerId);
    const rows = this.db.prepare('SELECT * FROM api_keys WHERE consumer_id = ? AND id > ? ORDER BY id LIMIT ?')
      .all(consumerId, p.after ?? '', p.limit + 1) as KeyRow[];
    return page(rows.map(toKey), p.limit);
  }

  async revoke(id: string, at: number): Promise<ApiKey> {
    const key = this.row(id);
    if (key.revokedAt === null) {
      this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(at, id);
      this.changed();
    }
    return this.row(id);
  }

  async rotate(id: string, successor: Pick<NewKeyRecord, 'digest' | 'prefix'>, graceEndsAt: number): Promise<ApiKey> {
    const newKeyId = newId('key');
    this.db.transaction(() => {
      const old = this.row(id);
      if (old.revokedAt !== null) throw new ConflictError(`key '${id}' is revoked`);
      if (old.replacedBy !== null) throw new ConflictError(`key '${id}' was already rotated (successor ${old.replacedBy})`);
      this.insert(newKeyId, { ...successor, consumerId: old.consumerId, planId: old.planId, expiresAt: old.expiresAt });
      const expiresAt = old.expiresAt === null ? graceEndsAt : Math.min(old.expiresAt, graceEndsAt);
      this.db.prepare('UPDATE api_keys SET expires_at = ?, replaced_by = ? WHERE id = ?').run(expiresAt, newKeyId, id);
    }).immediate();
    this.changed();
    return this.row(newKeyId);
  }
}

export function readSnapshot(db: Db): CatalogSnapshot {
  return db.transaction(() => {
    const apis = (db.prepare('SELECT * FROM apis').all() as ApiRow[]).map(toApi);
    const links = db.prepare('SELECT plan_id, api_id FROM plan_apis').all() as { plan_id: string; api_id: string }[];
    const byPlan = new Map<string, string[]>();
    for (const l of links) byPlan.set(l.plan_id, [...(byPlan.get(l.plan_id) ?? []), l.api_id]);
    const plans = (db.prepare('SELECT * FROM plans').all() as PlanRow[]).map((r): Plan => ({
      id: r.id, name: r.name, limits: JSON.parse(r.limits) as Limit[], apiIds: byPlan.get(r.id) ?? [], createdAt: r.created_at, updatedAt: r.updated_at,
    }));
    const keys = (db.prepare('SELECT id, digest, consumer_id, plan_id, expires_at FROM api_keys WHERE revoked_at IS NULL').all() as KeyRow[])
      .map((r): CompilableKey => ({ id: r.id, digest: r.digest, consumerId: r.consumer_id, planId: r.plan_id, expiresAt: r.expires_at }));
    return { apis, plans, keys };
  })();
}
