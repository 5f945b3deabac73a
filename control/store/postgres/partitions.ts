// usage_minute's daily partitions (RANGE on start, one UTC day each). They are created on demand, before the batch
// transaction that needs them, together with the next day's (so the day boundary rarely waits for one), and dropped
// whole by retention. No DEFAULT partition: with one, creating a day's partition later must scan it and fails once
// it holds rows of that day; creating ahead of the rows avoids both.
import type pg from 'pg';
import { pgCode, transaction } from './connection.js';

export const DAY_S = 86_400;
/** Serializes partition creation between replicas ("tollgate-partition" folded into 63 bits). */
export const PARTITION_LOCK_KEY = 0x746f6c6c70617274n;
const LOCK_NOT_AVAILABLE = '55P03';

export const dayOf = (t: number): number => Math.floor(t / DAY_S) * DAY_S;

/** usage_minute_p20260131 for the UTC day starting at `dayStart`. */
export function partitionName(dayStart: number): string {
  return `usage_minute_p${new Date(dayStart * 1000).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** The bounds PostgreSQL prints for a range partition of a BIGINT key: FOR VALUES FROM ('1') TO ('2'). */
export function parseBounds(expr: string): { from: number; to: number } | undefined {
  const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(expr);
  return m === null ? undefined : { from: Number(m[1]), to: Number(m[2]) };
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export interface MinutePartition { name: string; from: number; to: number }

export class MinutePartitions {
  /** Days known to have a partition (this process created or saw it). */
  private readonly known = new Set<number>();

  constructor(private readonly pool: pg.Pool) {}

  /** Makes sure every day of these minute starts has a partition, and the day after each. */
  async ensure(starts: Iterable<number>): Promise<void> {
    const wanted = new Set<number>();
    for (const s of starts) {
      const day = dayOf(s);
      if (this.known.has(day)) continue;
      wanted.add(day);
      wanted.add(day + DAY_S);
    }
    if (wanted.size === 0) return;
    const days = [...wanted].sort((a, b) => a - b);
    const present = await this.pool.query<{ name: string }>('SELECT n AS name FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NOT NULL', [days.map(partitionName)]);
    const existing = new Set(present.rows.map((r) => r.name));
    const missing = days.filter((d) => !existing.has(partitionName(d)));
    if (missing.length > 0) {
      await transaction(this.pool, async (c) => {
        // One creator at a time across replicas; the ones that waited find the partition and skip it.
        await c.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY.toString()]);
        for (const day of missing) {
          const name = partitionName(day);
          // Read pg_class with this statement's snapshot, not to_regclass: that goes through the backend's catalog cache,
          // which can still hold a "no such relation" entry from before the lock wait (invalidations from the creator
          // that held the lock are not taken in until a relation lock), and CREATE would then fail with 42P07.
          const exists = await c.query('SELECT 1 FROM pg_class WHERE relname = $1 AND relnamespace = current_schema()::regnamespace', [name]);
          if (exists.rowCount !== 0) continue;
          // CREATE … (LIKE) + ATTACH takes SHARE UPDATE EXCLUSIVE on usage_minute, which concurrent inserts do not
          // wait for; CREATE TABLE … PARTITION OF would take ACCESS EXCLUSIVE and stall every ingestion meanwhile.
          await c.query(`CREATE TABLE ${name} (LIKE usage_minute INCLUDING DEFAULTS)`);
          await c.query(`ALTER TABLE usage_minute ATTACH PARTITION ${name} FOR VALUES FROM (${day}) TO (${day + DAY_S})`);
        }
      });
    }
    for (const d of days) this.known.add(d);
  }

  /** Forgets what this process knew (another replica's retention may have dropped a partition). */
  forget(): void {
    this.known.clear();
  }

  async list(): Promise<MinutePartition[]> {
    const r = await this.pool.query<{ name: string; bound: string }>(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'usage_minute'::regclass`);
    const parts: MinutePartition[] = [];
    for (const row of r.rows) {
      const b = parseBounds(row.bound);
      if (b !== undefined) parts.push({ name: row.name, ...b });
    }
    return parts.sort((a, b) => a.from - b.from);
  }

  /**
   * Drops every partition whose whole range lies before `before`; returns their names. DROP of a partition locks
   * usage_minute exclusively for a moment: with a short lock_timeout it never queues ingestion for long, and a drop
   * that cannot get the lock is left for the next run (`complete: false`).
   */
  async dropBefore(before: number): Promise<{ dropped: string[]; complete: boolean }> {
    const dropped: string[] = [];
    for (const p of await this.list()) {
      if (p.to > before) continue;
      try {
        await transaction(this.pool, async (c) => {
          await c.query("SET LOCAL lock_timeout = '1s'");
          await c.query(`DROP TABLE IF EXISTS ${quoteIdent(p.name)}`);
        });
      } catch (err) {
        if (pgCode(err) === LOCK_NOT_AVAILABLE) return { dropped, complete: false };
        throw err;
      }
      this.known.delete(p.from);
      dropped.push(p.name);
    }
    return { dropped, complete: true };
  }
}
