// Consumers in SQLite.
import { NotFoundError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { ConsumerRepository } from '../repository.js';
import type { Consumer, Page, PageRequest } from '../types.js';
import type { Db } from './open.js';
import { feedKey } from '../../keyfeed/rules.js';
import { IN_SET, recordKeyWrites } from './keyfeed.js';
import { removeCreditsOf } from './credits.js';
import { page, uniqueName, type Clock, type Durable, type OnChange } from './shared.js';

type FeedKeyRow = Parameters<typeof feedKey>[0];
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
    this.db.transaction(() => {
      this.row(id);
      // Its keys go with it (ON DELETE CASCADE): the key feed records each as taken out of the set.
      const keys = this.db.prepare(`SELECT digest, id, consumer_id, plan_id, expires_at FROM api_keys WHERE consumer_id = ? AND ${IN_SET}`).all(id) as FeedKeyRow[];
      recordKeyWrites(this.db, keys.map((k) => ({ op: 'revoke', key: feedKey(k), was: feedKey(k) })), this.now());
      // So do its credit balances, each logged as removed.
      removeCreditsOf(this.db, 'consumer_id', id, this.now());
      this.db.prepare('DELETE FROM consumers WHERE id = ?').run(id);
    }).immediate();
    this.changed();
    await this.durable();
  }
}

