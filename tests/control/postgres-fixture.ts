// PostgreSQL for the control tests: which server (TOLLGATE_TEST_PG_URL, default the machine's own on 127.0.0.1:5432),
// whether this run puts the store there (TOLLGATE_TEST_STORE=postgres), and a fresh database per use, dropped after.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_PG_URL = process.env.TOLLGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Set by scripts/test.mjs for the second run of tests/control: testApp() opens PostgreSQL instead of SQLite. */
export const ON_POSTGRES = process.env.TOLLGATE_TEST_STORE === 'postgres';

/**
 * For a suite that is about SQLite itself (its files, its WAL, a crash of its process): skipped, with the reason, on
 * the PostgreSQL run, which covers every other suite.
 */
export function sqliteOnly(what: string): { skip?: string } {
  return ON_POSTGRES ? { skip: `SQLite-specific (${what}); this run stores in PostgreSQL` } : {};
}

/** `url` naming another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Why no test server can be used, or undefined when one answers. */
export async function pgUnavailable(): Promise<string | undefined> {
  try {
    await admin((c) => c.query('SELECT 1'));
    return undefined;
  } catch (err) {
    return `no PostgreSQL server at ${new URL(TEST_PG_URL).host} (${(err as Error).message}); apt-get install postgresql, or set TOLLGATE_TEST_PG_URL`;
  }
}

export interface TestDatabase { name: string; url: string; drop(): Promise<void> }

/** A new, empty database with a random name; drop() removes it even with connections still open. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `tollgate_test_${randomBytes(8).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: withDatabase(TEST_PG_URL, name),
    drop: () => admin(async (c) => { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); }),
  };
}

/** Every row of every table of the database at `url`, as text: what a dump of it would hold. */
export async function storedText(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const tables = await c.query<{ name: string }>("SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')");
    const parts: string[] = [];
    for (const { name } of tables.rows) parts.push(...(await c.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`)).rows.map((r) => r.row));
    return parts.join('\n');
  } finally {
    await c.end();
  }
}
