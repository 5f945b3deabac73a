// APIs in PostgreSQL.
import type pg from 'pg';
import { ConflictError, NotFoundError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { ApiInput, ApiPatchInput, ApiRepository, ImportApplied, ImportCurrent, ImportPlan, ImportTarget } from '../repository.js';
import type { Api, ApiOperation, Page, PageRequest, UnknownOperationMode, Visibility } from '../types.js';
import { FOREIGN_KEY_VIOLATION, pgCode, transaction, type Queryable } from './connection.js';
import { page, parseLimits, uniqueName, type Clock, type OnChange } from './shared.js';
import { checkRemovedOperations, limitsColumn } from '../../limit-rules.js';

export interface ApiRow {
  id: string; name: string; path_prefix: string; hosts: string; methods: string; created_at: number; updated_at: number;
  unknown_operation: string; import_title: string | null; import_version: string | null; import_sha256: string | null;
  operation_count: string | number;
}
export const toApi = (r: ApiRow): Api => ({
  id: r.id, name: r.name, pathPrefix: r.path_prefix, hosts: JSON.parse(r.hosts) as string[],
  methods: JSON.parse(r.methods) as string[], createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  unknownOperation: r.unknown_operation as UnknownOperationMode,
  importedFrom: r.import_sha256 === null ? null : { title: r.import_title ?? '', version: r.import_version ?? '', sha256: r.import_sha256 },
  operationCount: Number(r.operation_count),
});

/** Every API column plus its operation count (the index on api_operations(api_id, id) makes the count cheap). */
export const API_COLUMNS = 'apis.*, (SELECT COUNT(*) FROM api_operations o WHERE o.api_id = apis.id) AS operation_count';

export interface OperationRow {
  id: string; api_id: string; op_key: string; operation_id: string | null; method: string; path: string; cost: string | number;
  visibility: string; summary: string | null; position: number; limits: string | null;
}
export const toOperation = (r: OperationRow): ApiOperation => ({
  id: r.id, apiId: r.api_id, key: r.op_key, operationId: r.operation_id, method: r.method, path: r.path, cost: Number(r.cost),
  visibility: r.visibility as Visibility, summary: r.summary, position: Number(r.position),
  limits: r.limits === null ? [] : JSON.parse(r.limits) as ApiOperation['limits'],
});

async function apiRow(q: Queryable, id: string, lock = false): Promise<Api> {
  const r = await q.query<ApiRow>(`SELECT ${API_COLUMNS} FROM apis WHERE id = $1${lock ? ' FOR UPDATE OF apis' : ''}`, [id]);
  if (r.rows.length === 0) throw new NotFoundError('api', id);
  return toApi(r.rows[0]!);
}

export class PostgresApis implements ApiRepository {
  constructor(private readonly pool: pg.Pool, private readonly now: Clock, private readonly changed: OnChange) {}

  async create(input: ApiInput): Promise<Api> {
    const id = newId('api');
    const t = this.now();
    const r = await uniqueName('api', input.name, () => this.pool.query<ApiRow>(
      'INSERT INTO apis (id, name, path_prefix, hosts, methods, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *, 0 AS operation_count',
      [id, input.name, input.pathPrefix, JSON.stringify(input.hosts), JSON.stringify(input.methods), t, t]));
    this.changed();
    return toApi(r.rows[0]!);
  }

  async get(id: string): Promise<Api> {
    return apiRow(this.pool, id);
  }

  async list(p: PageRequest): Promise<Page<Api>> {
    const r = await this.pool.query<ApiRow>(`SELECT ${API_COLUMNS} FROM apis WHERE id > $1 ORDER BY id LIMIT $2`, [p.after ?? '', p.limit + 1]);
    return page(r.rows.map(toApi), p.limit);
  }

  async update(id: string, patch: ApiPatchInput): Promise<Api> {
    const api = await transaction(this.pool, async (c) => {
      // Locked: a concurrent patch of other fields is applied after this one, not overwritten by it.
      const next = { ...await apiRow(c, id, true), ...patch };
      await uniqueName('api', next.name, () => c.query(
        'UPDATE apis SET name = $1, path_prefix = $2, hosts = $3, methods = $4, unknown_operation = $5, updated_at = $6 WHERE id = $7',
        [next.name, next.pathPrefix, JSON.stringify(next.hosts), JSON.stringify(next.methods), next.unknownOperation, this.now(), id]));
      return apiRow(c, id);
    });
    this.changed();
    return api;
  }

  async delete(id: string): Promise<void> {
    await transaction(this.pool, async (c) => {
      await apiRow(c, id, true);
      const users = await c.query<{ plan_id: string }>('SELECT plan_id FROM plan_apis WHERE api_id = $1 ORDER BY plan_id LIMIT 5', [id]);
      if (users.rows.length > 0) throw new ConflictError(`api '${id}' is used by plan(s) ${users.rows.map((u) => u.plan_id).join(', ')}`);
      try {
        await c.query('DELETE FROM apis WHERE id = $1', [id]);
      } catch (err) {
        // A plan that started listing it since the check: the foreign key refuses, as the check would have.
        if (pgCode(err) === FOREIGN_KEY_VIOLATION) throw new ConflictError(`api '${id}' is used by a plan`);
        throw err;
      }
    });
    this.changed();
  }

  async operations(apiId: string, p: PageRequest): Promise<Page<ApiOperation>> {
    const rows = await transaction(this.pool, async (c) => {
      await apiRow(c, apiId);
      return (await c.query<OperationRow>('SELECT * FROM api_operations WHERE api_id = $1 AND id > $2 ORDER BY id LIMIT $3', [apiId, p.after ?? '', p.limit + 1])).rows;
    }, { isolation: 'REPEATABLE READ', readOnly: true });
    return page(rows.map(toOperation), p.limit);
  }

  async importApi(target: ImportTarget, plan: (current: ImportCurrent) => ImportPlan, dryRun: boolean): Promise<ImportApplied> {
    try {
      return await this.importOnce(target, plan, dryRun);
    } catch (err) {
      // Two imports creating the same new API by name: the loser's insert breaks the unique name. Once more, it finds
      // the winner's API and updates it, as if the two had run one after the other.
      if (err instanceof ConflictError && target.apiId === undefined) return this.importOnce(target, plan, dryRun);
      throw err;
    }
  }

  private async importOnce(target: ImportTarget, plan: (current: ImportCurrent) => ImportPlan, dryRun: boolean): Promise<ImportApplied> {
    const applied = await transaction(this.pool, async (c): Promise<ImportApplied> => {
      // Locked: concurrent imports (and patches) of one API apply one after the other, each planned on the other's result.
      let api: Api | null;
      if (target.apiId !== undefined) api = await apiRow(c, target.apiId, true);
      else {
        const r = await c.query<ApiRow>(`SELECT ${API_COLUMNS} FROM apis WHERE name = $1 FOR UPDATE OF apis`, [target.name]);
        api = r.rows.length === 0 ? null : toApi(r.rows[0]!);
      }
      const apiId = api?.id ?? newId('api');
      const operations = api === null ? [] : (await c.query<OperationRow>('SELECT * FROM api_operations WHERE api_id = $1 ORDER BY position', [apiId])).rows.map(toOperation);
      const current: ImportCurrent = { apiId, api, operations };
      const decided = plan(current);
      // Plans naming an operation the import removes refuse it (limit-rules.ts). Checked again after the DELETE below:
      // a plan naming one locks it FOR SHARE (plans.ts), so the DELETE waits for that plan's commit and the second read sees it.
      const users = async (): Promise<void> => checkRemovedOperations(apiId, decided.remove, (await c.query<{ id: string; limits: string }>(
        'SELECT p.id, p.limits FROM plans p JOIN plan_apis pa ON pa.plan_id = p.id WHERE pa.api_id = $1', [apiId])).rows
        .map((r) => ({ id: r.id, limits: parseLimits(r.limits) })));
      await users();
      if (dryRun) return { current, plan: decided, api: null };
      const a = decided.api;
      const t = this.now();
      if (api === null) {
        await uniqueName('api', a.name, () => c.query(
          `INSERT INTO apis (id, name, path_prefix, hosts, methods, created_at, updated_at, unknown_operation, import_title, import_version, import_sha256)
           VALUES ($1, $2, $3, '[]', '[]', $4, $4, $5, $6, $7, $8)`,
          [apiId, a.name, a.pathPrefix, t, a.unknownOperation, a.importedFrom.title, a.importedFrom.version, a.importedFrom.sha256]));
      } else if (decided.writeApi) {
        await uniqueName('api', a.name, () => c.query(
          `UPDATE apis SET name = $1, path_prefix = $2, unknown_operation = $3, import_title = $4, import_version = $5, import_sha256 = $6,
           updated_at = $7 WHERE id = $8`,
          [a.name, a.pathPrefix, a.unknownOperation, a.importedFrom.title, a.importedFrom.version, a.importedFrom.sha256, t, apiId]));
      }
      if (decided.remove.length > 0) {
        await c.query('DELETE FROM api_operations WHERE api_id = $1 AND id = ANY($2::text[])', [apiId, decided.remove]);
        await users();
      }
      // One statement per kind of write however many operations (unnest of one array per column).
      const cols = (ops: ApiOperation[]): unknown[] => [
        ops.map((o) => o.id), ops.map((o) => o.key), ops.map((o) => o.operationId), ops.map((o) => o.method), ops.map((o) => o.path),
        ops.map((o) => o.cost), ops.map((o) => o.visibility), ops.map((o) => o.summary), ops.map((o) => o.position), ops.map(limitsColumn),
      ];
      const UNNEST = 'unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::int[], $11::text[])';
      if (decided.update.length > 0) {
        await c.query(
          `UPDATE api_operations o SET operation_id = u.operation_id, method = u.method, path = u.path, cost = u.cost, visibility = u.visibility,
             summary = u.summary, position = u.position, limits = u.limits
           FROM ${UNNEST} AS u(id, op_key, operation_id, method, path, cost, visibility, summary, position, limits)
           WHERE o.id = u.id AND o.api_id = $1`, [apiId, ...cols(decided.update)]);
      }
      if (decided.insert.length > 0) {
        await c.query(
          `INSERT INTO api_operations (id, op_key, operation_id, method, path, cost, visibility, summary, position, limits, api_id)
           SELECT u.*, $1::text FROM ${UNNEST} AS u`, [apiId, ...cols(decided.insert)]);
      }
      return { current, plan: decided, api: await apiRow(c, apiId) };
    });
    if (!dryRun && hasWrites(applied.plan, applied.current)) this.changed();
    return applied;
  }
}

const hasWrites = (plan: ImportPlan, current: ImportCurrent): boolean =>
  current.api === null || plan.writeApi || plan.insert.length > 0 || plan.update.length > 0 || plan.remove.length > 0;
