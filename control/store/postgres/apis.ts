// APIs in PostgreSQL.
import type pg from 'pg';
import { ConflictError, NotFoundError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { ApiInput, ApiRepository } from '../repository.js';
import type { Api, Page, PageRequest } from '../types.js';
import { FOREIGN_KEY_VIOLATION, pgCode, transaction, type Queryable } from './connection.js';
import { page, uniqueName, type Clock, type OnChange } from './shared.js';

export interface ApiRow { id: string; name: string; path_prefix: string; hosts: string; methods: string; created_at: number; updated_at: number }
export const toApi = (r: ApiRow): Api => ({
  id: r.id, name: r.name, pathPrefix: r.path_prefix, hosts: JSON.parse(r.hosts) as string[],
  methods: JSON.parse(r.methods) as string[], createdAt: r.created_at, updatedAt: r.updated_at,
});

async function apiRow(q: Queryable, id: string, lock = false): Promise<Api> {
  const r = await q.query<ApiRow>(`SELECT * FROM apis WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  if (r.rows.length === 0) throw new NotFoundError('api', id);
  return toApi(r.rows[0]!);
}

export class PostgresApis implements ApiRepository {
  constructor(private readonly pool: pg.Pool, private readonly now: Clock, private readonly changed: OnChange) {}

  async create(input: ApiInput): Promise<Api> {
    const id = newId('api');
    const t = this.now();
    const r = await uniqueName('api', input.name, () => this.pool.query<ApiRow>(
      'INSERT INTO apis (id, name, path_prefix, hosts, methods, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *',
      [id, input.name, input.pathPrefix, JSON.stringify(input.hosts), JSON.stringify(input.methods), t, t]));
    this.changed();
    return toApi(r.rows[0]!);
  }

  async get(id: string): Promise<Api> {
    return apiRow(this.pool, id);
  }

  async list(p: PageRequest): Promise<Page<Api>> {
    const r = await this.pool.query<ApiRow>('SELECT * FROM apis WHERE id > $1 ORDER BY id LIMIT $2', [p.after ?? '', p.limit + 1]);
    return page(r.rows.map(toApi), p.limit);
  }

  async update(id: string, patch: Partial<ApiInput>): Promise<Api> {
    const api = await transaction(this.pool, async (c) => {
      // Locked: a concurrent patch of other fields is applied after this one, not overwritten by it.
      const next = { ...await apiRow(c, id, true), ...patch };
      const r = await uniqueName('api', next.name, () => c.query<ApiRow>(
        'UPDATE apis SET name = $1, path_prefix = $2, hosts = $3, methods = $4, updated_at = $5 WHERE id = $6 RETURNING *',
        [next.name, next.pathPrefix, JSON.stringify(next.hosts), JSON.stringify(next.methods), this.now(), id]));
      return toApi(r.rows[0]!);
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
}
