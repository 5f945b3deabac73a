// APIs in SQLite.
import { ConflictError, NotFoundError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { ApiInput, ApiPatchInput, ApiRepository, ImportApplied, ImportCurrent, ImportPlan, ImportTarget } from '../repository.js';
import type { Api, ApiOperation, Page, PageRequest, UnknownOperationMode, Visibility } from '../types.js';
import type { Db } from './open.js';
import { page, parseLimits, uniqueName, type Clock, type Durable, type OnChange } from './shared.js';
import { checkRemovedOperations, limitsColumn } from '../../limit-rules.js';

export interface ApiRow {
  id: string; name: string; path_prefix: string; hosts: string; methods: string; created_at: number; updated_at: number;
  unknown_operation: string; import_title: string | null; import_version: string | null; import_sha256: string | null;
  operation_count: number;
}
export const toApi = (r: ApiRow): Api => ({
  id: r.id, name: r.name, pathPrefix: r.path_prefix, hosts: JSON.parse(r.hosts) as string[],
  methods: JSON.parse(r.methods) as string[], createdAt: r.created_at, updatedAt: r.updated_at,
  unknownOperation: r.unknown_operation as UnknownOperationMode,
  importedFrom: r.import_sha256 === null ? null : { title: r.import_title ?? '', version: r.import_version ?? '', sha256: r.import_sha256 },
  operationCount: Number(r.operation_count),
});

/** Every API column plus its operation count (the index on api_operations(api_id, id) makes the count cheap). */
export const API_COLUMNS = 'apis.*, (SELECT COUNT(*) FROM api_operations o WHERE o.api_id = apis.id) AS operation_count';

export interface OperationRow {
  id: string; api_id: string; op_key: string; operation_id: string | null; method: string; path: string; cost: number;
  visibility: string; summary: string | null; position: number; limits: string | null;
}
export const toOperation = (r: OperationRow): ApiOperation => ({
  id: r.id, apiId: r.api_id, key: r.op_key, operationId: r.operation_id, method: r.method, path: r.path, cost: Number(r.cost),
  visibility: r.visibility as Visibility, summary: r.summary, position: Number(r.position),
  limits: r.limits === null ? [] : JSON.parse(r.limits) as ApiOperation['limits'],
});


export class SqliteApis implements ApiRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange, private readonly durable: Durable) {}

  private row(id: string): Api {
    const r = this.db.prepare(`SELECT ${API_COLUMNS} FROM apis WHERE id = ?`).get(id) as ApiRow | undefined;
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
    await this.durable();
    return this.row(id);
  }

  async get(id: string): Promise<Api> {
    return this.row(id);
  }

  async list(p: PageRequest): Promise<Page<Api>> {
    const rows = this.db.prepare(`SELECT ${API_COLUMNS} FROM apis WHERE id > ? ORDER BY id LIMIT ?`).all(p.after ?? '', p.limit + 1) as ApiRow[];
    return page(rows.map(toApi), p.limit);
  }

  async update(id: string, patch: ApiPatchInput): Promise<Api> {
    const next = { ...this.row(id), ...patch };
    uniqueName('api', next.name, () => this.db.prepare(
      'UPDATE apis SET name = ?, path_prefix = ?, hosts = ?, methods = ?, unknown_operation = ?, updated_at = ? WHERE id = ?',
    ).run(next.name, next.pathPrefix, JSON.stringify(next.hosts), JSON.stringify(next.methods), next.unknownOperation, this.now(), id));
    this.changed();
    await this.durable();
    return this.row(id);
  }

  async delete(id: string): Promise<void> {
    this.row(id);
    const users = this.db.prepare('SELECT plan_id FROM plan_apis WHERE api_id = ? ORDER BY plan_id LIMIT 5').all(id) as { plan_id: string }[];
    if (users.length > 0) throw new ConflictError(`api '${id}' is used by plan(s) ${users.map((u) => u.plan_id).join(', ')}`);
    this.db.prepare('DELETE FROM apis WHERE id = ?').run(id);
    this.changed();
    await this.durable();
  }

  async operations(apiId: string, p: PageRequest): Promise<Page<ApiOperation>> {
    const rows = this.db.transaction(() => {
      this.row(apiId);
      return this.db.prepare('SELECT * FROM api_operations WHERE api_id = ? AND id > ? ORDER BY id LIMIT ?').all(apiId, p.after ?? '', p.limit + 1) as OperationRow[];
    })();
    return page(rows.map(toOperation), p.limit);
  }

  async importApi(target: ImportTarget, plan: (current: ImportCurrent) => ImportPlan, dryRun: boolean): Promise<ImportApplied> {
    // BEGIN IMMEDIATE: the read that the plan is made from and the writes are one step for every other writer.
    const applied = this.db.transaction((): ImportApplied => {
      let api: Api | null;
      if (target.apiId !== undefined) api = this.row(target.apiId);
      else {
        const r = this.db.prepare(`SELECT ${API_COLUMNS} FROM apis WHERE name = ?`).get(target.name) as ApiRow | undefined;
        api = r === undefined ? null : toApi(r);
      }
      const apiId = api?.id ?? newId('api');
      const operations = api === null ? [] : (this.db.prepare('SELECT * FROM api_operations WHERE api_id = ? ORDER BY position').all(apiId) as OperationRow[]).map(toOperation);
      const current: ImportCurrent = { apiId, api, operations };
      const decided = plan(current);
      const users = (this.db.prepare('SELECT p.id, p.limits FROM plans p JOIN plan_apis pa ON pa.plan_id = p.id WHERE pa.api_id = ?').all(apiId) as
        { id: string; limits: string }[]).map((r) => ({ id: r.id, limits: parseLimits(r.limits) }));
      checkRemovedOperations(apiId, decided.remove, users);
      if (dryRun) return { current, plan: decided, api: null };
      const a = decided.api;
      const t = this.now();
      if (api === null) {
        uniqueName('api', a.name, () => this.db.prepare(
          `INSERT INTO apis (id, name, path_prefix, hosts, methods, created_at, updated_at, unknown_operation, import_title, import_version, import_sha256)
           VALUES (?, ?, ?, '[]', '[]', ?, ?, ?, ?, ?, ?)`,
        ).run(apiId, a.name, a.pathPrefix, t, t, a.unknownOperation, a.importedFrom.title, a.importedFrom.version, a.importedFrom.sha256));
      } else if (decided.writeApi) {
        uniqueName('api', a.name, () => this.db.prepare(
          `UPDATE apis SET name = ?, path_prefix = ?, unknown_operation = ?, import_title = ?, import_version = ?, import_sha256 = ?, updated_at = ?
           WHERE id = ?`,
        ).run(a.name, a.pathPrefix, a.unknownOperation, a.importedFrom.title, a.importedFrom.version, a.importedFrom.sha256, t, apiId));
      }
      const remove = this.db.prepare('DELETE FROM api_operations WHERE id = ? AND api_id = ?');
      for (const id of decided.remove) remove.run(id, apiId);
      const update = this.db.prepare(
        'UPDATE api_operations SET operation_id = ?, method = ?, path = ?, cost = ?, visibility = ?, summary = ?, position = ?, limits = ? WHERE id = ? AND api_id = ?');
      for (const o of decided.update) update.run(o.operationId, o.method, o.path, o.cost, o.visibility, o.summary, o.position, limitsColumn(o), o.id, apiId);
      const insert = this.db.prepare(
        'INSERT INTO api_operations (id, api_id, op_key, operation_id, method, path, cost, visibility, summary, position, limits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const o of decided.insert) insert.run(o.id, apiId, o.key, o.operationId, o.method, o.path, o.cost, o.visibility, o.summary, o.position, limitsColumn(o));
      return { current, plan: decided, api: this.row(apiId) };
    }).immediate();
    if (!dryRun && hasWrites(applied.plan, applied.current)) {
      this.changed();
      await this.durable();
    }
    return applied;
  }
}

export const hasWrites = (plan: ImportPlan, current: ImportCurrent): boolean =>
  current.api === null || plan.writeApi || plan.insert.length > 0 || plan.update.length > 0 || plan.remove.length > 0;
