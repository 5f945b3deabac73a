// Consumers in PostgreSQL.
import type pg from 'pg';
import { NotFoundError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { ConsumerRepository } from '../repository.js';
import type { Consumer, Page, PageRequest } from '../types.js';
import { page, uniqueName, type Clock, type OnChange } from './shared.js';
import { transaction } from './connection.js';
import { IN_SET, lockKeyFeed, recordKeyWrites } from './keyfeed.js';
import { removeCreditsOf } from './credits.js';
import { feedKey } from '../../keyfeed/rules.js';

interface ConsumerRow { id: string; name: string; created_at: number; updated_at: number }
const toConsumer = (r: ConsumerRow): Consumer => ({ id: r.id, name: r.name, createdAt: r.created_at, updatedAt: r.updated_at });

export class PostgresConsumers implements ConsumerRepository {
  constructor(private readonly pool: pg.Pool, private readonly now: Clock, private readonly changed: OnChange) {}

  async create(name: string): Promise<Consumer> {
    const id = newId('con');
    const t = this.now();
    const r = await uniqueName('consumer', name, () => this.pool.query<ConsumerRow>(
      'INSERT INTO consumers (id, name, created_at, updated_at) VALUES ($1, $2, $3, $4) RETURNING *', [id, name, t, t]));
    return toConsumer(r.rows[0]!);
  }

  async get(id: string): Promise<Consumer> {
    const r = await this.pool.query<ConsumerRow>('SELECT * FROM consumers WHERE id = $1', [id]);
    if (r.rows.length === 0) throw new NotFoundError('consumer', id);
    return toConsumer(r.rows[0]!);
  }

  async list(p: PageRequest): Promise<Page<Consumer>> {
    const r = await this.pool.query<ConsumerRow>('SELECT * FROM consumers WHERE id > $1 ORDER BY id LIMIT $2', [p.after ?? '', p.limit + 1]);
    return page(r.rows.map(toConsumer), p.limit);
  }

  async rename(id: string, name: string): Promise<Consumer> {
    const r = await uniqueName('consumer', name, () => this.pool.query<ConsumerRow>(
      'UPDATE consumers SET name = $1, updated_at = $2 WHERE id = $3 RETURNING *', [name, this.now(), id]));
    if (r.rows.length === 0) throw new NotFoundError('consumer', id);
    return toConsumer(r.rows[0]!);
  }

  async delete(id: string): Promise<void> {
    // Its keys go with it (ON DELETE CASCADE), in the same statement; the key feed records each as taken out.
    await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      const keys = await c.query<Parameters<typeof feedKey>[0]>(`SELECT digest, id, consumer_id, plan_id, expires_at FROM api_keys WHERE consumer_id = $1 AND ${IN_SET}`, [id]);
      // Its credit balances go with it, each logged as removed.
      await removeCreditsOf(c, 'consumer_id', id, this.now());
      const r = await c.query('DELETE FROM consumers WHERE id = $1', [id]);
      if (r.rowCount === 0) throw new NotFoundError('consumer', id);
      await recordKeyWrites(c, keys.rows.map((k) => ({ op: 'revoke', key: feedKey(k), was: feedKey(k) })), this.now());
    });
    this.changed();
  }
}
