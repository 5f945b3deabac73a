// API keys (digests only) in SQLite.
import { ConflictError, NotFoundError, ProblemError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { KeyRepository, NewKeyRecord } from '../repository.js';
import type { ApiKey, Page, PageRequest } from '../types.js';
import { keyFromRow, type KeyRow } from '../key-row.js';
import type { Db } from './open.js';
import { page, type Clock, type Durable, type OnChange } from './shared.js';

export type { KeyRow };

export class SqliteKeys implements KeyRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange, private readonly durable: Durable) {}

  private row(id: string): ApiKey {
    const r = this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow | undefined;
    if (r === undefined) throw new NotFoundError('key', id);
    return keyFromRow(r);
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
    await this.durable();
    return this.row(id);
  }

  async get(id: string): Promise<ApiKey> {
    return this.row(id);
  }

  async listForConsumer(consumerId: string, p: PageRequest): Promise<Page<ApiKey>> {
    if (this.db.prepare('SELECT 1 FROM consumers WHERE id = ?').get(consumerId) === undefined) throw new NotFoundError('consumer', consumerId);
    const rows = this.db.prepare('SELECT * FROM api_keys WHERE consumer_id = ? AND id > ? ORDER BY id LIMIT ?')
      .all(consumerId, p.after ?? '', p.limit + 1) as KeyRow[];
    return page(rows.map(keyFromRow), p.limit);
  }

  async revoke(id: string, at: number): Promise<ApiKey> {
    const key = this.row(id);
    if (key.revokedAt === null) {
      this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(at, id);
      this.changed();
      await this.durable();
    }
    return this.row(id);
  }

  async rotate(id: string, successor: Pick<NewKeyRecord, 'digest' | 'prefix'>, graceEndsAt: number): Promise<ApiKey> {
    const newKeyId = newId('key');
    this.db.transaction(() => {
      const old = this.row(id);
      if (old.revokedAt !== null) throw new ConflictError(`key '${id}' is revoked`);
      if (old.replacedBy !== null) throw new ConflictError(`key '${id}' was already rotated (successor ${old.replacedBy})`);
      // The successor inherits the expiry; rotating an expired key would mint a key that is dead on arrival.
      if (old.expiresAt !== null && old.expiresAt <= this.now()) throw new ConflictError(`key '${id}' has expired; create a new key instead`);
      this.insert(newKeyId, { ...successor, consumerId: old.consumerId, planId: old.planId, expiresAt: old.expiresAt });
      const expiresAt = old.expiresAt === null ? graceEndsAt : Math.min(old.expiresAt, graceEndsAt);
      this.db.prepare('UPDATE api_keys SET expires_at = ?, replaced_by = ? WHERE id = ?').run(expiresAt, newKeyId, id);
    }).immediate();
    this.changed();
    await this.durable();
    return this.row(newKeyId);
  }
}

