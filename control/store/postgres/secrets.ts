// Named service secrets (the admin token digests, legacy values) in PostgreSQL.
import type pg from 'pg';
import type { SecretRepository } from '../repository.js';

export class PostgresSecrets implements SecretRepository {
  constructor(private readonly pool: pg.Pool) {}

  async get(name: string): Promise<string | undefined> {
    return (await this.pool.query<{ value: string }>('SELECT value FROM secrets WHERE name = $1', [name])).rows[0]?.value;
  }

  async set(name: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value', [name, value]);
  }
}
