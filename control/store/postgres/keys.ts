// API keys (digests only) in PostgreSQL.
import type pg from 'pg';
import { ConflictError, NotFoundError, ProblemError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { KeyRepository, NewKeyRecord } from '../repository.js';
import type { ApiKey, Page, PageRequest } from '../types.js';
import { keyFromRow, type KeyRow } from '../key-row.js';
import { FOREIGN_KEY_VIOLATION, pgCode, transaction, type Queryable } from './connection.js';
import { page, type Clock, type OnChange } from './shared.js';
import { feedEntry, lockKeyFeed, recordKeyWrites } from './keyfeed.js';
import type { KeyWrite } from '../../keyfeed/rules.js';

export type { KeyRow };

async function keyRow(q: Queryable, id: string, lock = false): Promise<ApiKey> {
  const r = await q.query<KeyRow>(`SELECT * FROM api_keys WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  if (r.rows.length === 0) throw new NotFoundError('key', id);
  return keyFromRow(r.rows[0]!);
}

const unknownPlan = (planId: string): ProblemError => new ProblemError(422, 'Unknown reference', `planId: plan '${planId}' does not exist`);

export class PostgresKeys implements KeyRepository {
  constructor(private readonly pool: pg.Pool, private readonly now: Clock, private readonly changed: OnChange) {}

  private async insert(c: Queryable, id: string, r: NewKeyRecord): Promise<ApiKey> {
    if ((await c.query('SELECT 1 FROM consumers WHERE id = $1', [r.consumerId])).rowCount === 0) throw new NotFoundError('consumer', r.consumerId);
    if ((await c.query('SELECT 1 FROM plans WHERE id = $1', [r.planId])).rowCount === 0) throw unknownPlan(r.planId);
    try {
      const row = await c.query<KeyRow>(
        'INSERT INTO api_keys (id, consumer_id, plan_id, digest, prefix, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *',
        [id, r.consumerId, r.planId, r.digest, r.prefix, this.now(), r.expiresAt]);
      return keyFromRow(row.rows[0]!);
    } catch (err) {
      // Deleted between the check and the insert: the same answers the check gives.
      if (pgCode(err) === FOREIGN_KEY_VIOLATION) {
        if ((err as { constraint?: string }).constraint?.includes('plan') === true) throw unknownPlan(r.planId);
        throw new NotFoundError('consumer', r.consumerId);
      }
      throw err;
    }
  }

  async create(record: NewKeyRecord): Promise<ApiKey> {
    const key = await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      const created = await this.insert(c, newId('key'), record);
      await recordKeyWrites(c, [{ op: 'add', key: [record.digest, created.id, record.consumerId, record.planId, record.expiresAt ?? 0], was: null }], this.now());
      return created;
    });
    this.changed();
    return key;
  }

  async get(id: string): Promise<ApiKey> {
    return keyRow(this.pool, id);
  }

  async listForConsumer(consumerId: string, p: PageRequest): Promise<Page<ApiKey>> {
    if ((await this.pool.query('SELECT 1 FROM consumers WHERE id = $1', [consumerId])).rowCount === 0) throw new NotFoundError('consumer', consumerId);
    const r = await this.pool.query<KeyRow>('SELECT * FROM api_keys WHERE consumer_id = $1 AND id > $2 ORDER BY id LIMIT $3', [consumerId, p.after ?? '', p.limit + 1]);
    return page(r.rows.map(keyFromRow), p.limit);
  }

  async revoke(id: string, at: number): Promise<ApiKey> {
    // Only the first revocation sets revokedAt: revoking again answers with the first one's time.
    const revoked = await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      const was = await feedEntry(c, id);
      const r = await c.query<KeyRow>('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING *', [at, id]);
      if (r.rows.length === 0) return undefined;
      // A key the sweeper already took out as expired leaves the set once only.
      if (was !== null) await recordKeyWrites(c, [{ op: 'revoke', key: was, was }], this.now());
      return keyFromRow(r.rows[0]!);
    });
    if (revoked === undefined) return keyRow(this.pool, id);
    this.changed();
    return revoked;
  }

  async rotate(id: string, successor: Pick<NewKeyRecord, 'digest' | 'prefix'>, graceEndsAt: number): Promise<ApiKey> {
    const newKeyId = newId('key');
    const key = await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      // Locked, so two concurrent rotations cannot both mint a successor.
      const old = await keyRow(c, id, true);
      if (old.revokedAt !== null) throw new ConflictError(`key '${id}' is revoked`);
      if (old.replacedBy !== null) throw new ConflictError(`key '${id}' was already rotated (successor ${old.replacedBy})`);
      // The successor inherits the expiry; rotating an expired key would mint a key that is dead on arrival.
      if (old.expiresAt !== null && old.expiresAt <= this.now()) throw new ConflictError(`key '${id}' has expired; create a new key instead`);
      const created = await this.insert(c, newKeyId, { ...successor, consumerId: old.consumerId, planId: old.planId, expiresAt: old.expiresAt });
      const was = await feedEntry(c, id);
      const expiresAt = old.expiresAt === null ? graceEndsAt : Math.min(old.expiresAt, graceEndsAt);
      await c.query('UPDATE api_keys SET expires_at = $1, replaced_by = $2 WHERE id = $3', [expiresAt, newKeyId, id]);
      const writes: KeyWrite[] = [{ op: 'add', key: [successor.digest, newKeyId, old.consumerId, old.planId, old.expiresAt ?? 0], was: null }];
      if (was !== null) writes.unshift({ op: 'rotate', key: [was[0], was[1], was[2], was[3], expiresAt], was });
      await recordKeyWrites(c, writes, this.now());
      return created;
    });
    this.changed();
    return key;
  }

  async changePlan(id: string, planId: string): Promise<ApiKey> {
    const moved = await transaction(this.pool, async (c) => {
      await lockKeyFeed(c);
      const key = await keyRow(c, id, true);
      if ((await c.query('SELECT 1 FROM plans WHERE id = $1 FOR SHARE', [planId])).rowCount === 0) throw unknownPlan(planId);
      if (key.planId === planId) return false;
      const was = await feedEntry(c, id);
      await c.query('UPDATE api_keys SET plan_id = $1 WHERE id = $2', [planId, id]);
      // Logged as a removal under the old plan and an add under the new one: each target's scope sees what it must.
      if (was !== null) await recordKeyWrites(c, [{ op: 'add', key: [was[0], was[1], was[2], planId, was[4]], was }], this.now());
      return true;
    });
    if (moved) this.changed();
    return keyRow(this.pool, id);
  }
}
