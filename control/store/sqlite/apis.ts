// APIs in SQLite.
import { ConflictError, NotFoundError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { ApiInput, ApiRepository } from '../repository.js';
import type { Api, Page, PageRequest } from '../types.js';
import type { Db } from './open.js';
import { page, uniqueName, type Clock, type Durable, type OnChange } from './shared.js';

export interface ApiRow { id: string; name: string; path_prefix: string; hosts: string; methods: string; created_at: number; updated_at: number }
export const toApi = (r: ApiRow): Api => ({
  id: r.id, name: r.name, pathPrefix: r.path_prefix, hosts: JSON.parse(r.hosts) as string[],
  methods: JSON.parse(r.methods) as string[], createdAt: r.created_at, updatedAt: r.updated_at,
});

export class SqliteApis implements ApiRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange, private readonly durable: Durable) {}

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
    await this.durable();
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
}

