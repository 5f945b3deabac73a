// API keys (digests only) in SQLite.
import { ConflictError, NotFoundError, ProblemError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { KeyRepository, NewKeyRecord } from '../repository.js';
import type { ApiKey, Page, PageRequest } from '../types.js';
import { keyFromRow, type KeyRow } from '../key-row.js';
import type { Db } from './open.js';
import { feedEntry, recordKeyWrites } from './keyfeed.js';
import type { KeyWrite } from '../../keyfeed/rules.js';
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
    this.db.transaction(() => {
      this.insert(id, record);
      recordKeyWrites(this.db, [{ op: 'add', key: [record.digest, id, record.consumerId, record.planId, record.expiresAt ?? 0], was: null }], this.now());
    }).immediate();
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
    const revoked = this.db.transaction((): boolean => {
      if (this.row(id).revokedAt !== null) return false;
      const was = feedEntry(this.db, id);
      this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(at, id);
      // A key the sweeper already took out as expired leaves the set once only.
      if (was !== null) recordKeyWrites(this.db, [{ op: 'revoke', key: was, was }], this.now());
      return true;
    }).immediate();
    if (revoked) {
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
      const was = feedEntry(this.db, id);
      const expiresAt = old.expiresAt === null ? graceEndsAt : Math.min(old.expiresAt, graceEndsAt);
      this.db.prepare('UPDATE api_keys SET expires_at = ?, replaced_by = ? WHERE id = ?').run(expiresAt, newKeyId, id);
      const writes: KeyWrite[] = [{ op: 'add', key: [successor.digest, newKeyId, old.consumerId, old.planId, old.expiresAt ?? 0], was: null }];
      if (was !== null) writes.unshift({ op: 'rotate', key: [was[0], was[1], was[2], was[3], expiresAt], was });
      recordKeyWrites(this.db, writes, this.now());
    }).immediate();
    this.changed();
    await this.durable();
    return this.row(newKeyId);
  }

  async changePlan(id: string, planId: string): Promise<ApiKey> {
    const moved = this.db.transaction((): boolean => {
      const key = this.row(id);
      if (this.db.prepare('SELECT 1 FROM plans WHERE id = ?').get(planId) === undefined) {
        throw new ProblemError(422, 'Unknown reference', `planId: plan '${planId}' does not exist`);
      }
      if (key.planId === planId) return false;
      const was = feedEntry(this.db, id);
      this.db.prepare('UPDATE api_keys SET plan_id = ? WHERE id = ?').run(planId, id);
      // Logged as a removal under the old plan and an add under the new one: each target's scope sees what it must.
      if (was !== null) recordKeyWrites(this.db, [{ op: 'add', key: [was[0], was[1], was[2], planId, was[4]], was }], this.now());
      return true;
    }).immediate();
    if (moved) {
      this.changed();
      await this.durable();
    }
    return this.row(id);
  }
}
