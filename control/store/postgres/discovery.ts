// Service discovery's records in PostgreSQL (control/discovery/record.ts).
import type pg from 'pg';
import { DISCOVERED_COLUMNS, discoveredValues, toDiscovered, type DiscoveredApi, type DiscoveredRow, type DiscoveryRepository } from '../../discovery/record.js';
import { transaction } from './connection.js';

export class PostgresDiscovery implements DiscoveryRepository {
  constructor(private readonly pool: pg.Pool) {}

  async list(): Promise<DiscoveredApi[]> {
    const r = await this.pool.query<DiscoveredRow>(`SELECT ${DISCOVERED_COLUMNS} FROM discovered_apis ORDER BY namespace, service_name, service_uid`);
    return r.rows.map(toDiscovered);
  }

  async put(record: DiscoveredApi, replaces?: string): Promise<void> {
    await transaction(this.pool, async (c) => {
      if (replaces !== undefined) await c.query('DELETE FROM discovered_apis WHERE service_uid = $1', [replaces]);
      const set = DISCOVERED_COLUMNS.split(', ').slice(1).map((col) => `${col} = excluded.${col}`).join(', ');
      await c.query(`INSERT INTO discovered_apis (${DISCOVERED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (service_uid) DO UPDATE SET ${set}`, discoveredValues(record));
    });
  }

  async remove(serviceUid: string): Promise<void> {
    await this.pool.query('DELETE FROM discovered_apis WHERE service_uid = $1', [serviceUid]);
  }
}
