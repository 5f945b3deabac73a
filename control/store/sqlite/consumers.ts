// Consumers in SQLite.
import { NotFoundError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { ConsumerRepository } from '../repository.js';
import type { Consumer, Page, PageRequest } from '../types.js';
import type { Db } from './open.js';
import { page, uniqueName, type Clock, type Durable, type OnChange } from './shared.js';

interface ConsumerRow { id: string; name: string; created_at: number; updated_at: number }
const toConsumer = (r: ConsumerRow): Consumer => ({ id: r.id, name: r.name, createdAt: r.created_at, updatedAt: r.updated_at });

export class SqliteConsumers implements ConsumerRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange, private readonly durable: Durable) {}

  private row(id: string): Consumer {
    const r = this.db.prepare('SELECT * FROM consumers WHERE id = ?').get(id) as ConsumerRow | undefined;
    if (r === undefined) throw new NotFoundError('consumer', id);
    return toConsumer(r);
  }

  async create(name: string): Promise<Consumer> {
    const id = newId('con');
    const t = this.now();
    uniqueName('consumer', name, () => this.db.prepare('INSERT INTO consumers (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)').run(id, name, t, t));
    await this.durable();
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
    await this.durable();
    return this.row(id);
  }

  async delete(id: string): Promise<void> {
    this.row(id);
    this.db.prepare('DELETE FROM consumers WHERE id = ?').run(id);
    this.changed();
    await this.durable();
  }
}

