// Connections to PostgreSQL: the pool every repository queries through, dedicated clients (for LISTEN/NOTIFY and the
// leader's advisory lock), transactions, and the error codes the repositories translate.
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';

const INT8_OID = 20;
const NUMERIC_OID = 1700;
const toNumber = (v: string): number => Number(v);

/**
 * BIGINT columns (unix seconds, counts) and SUM() over them (NUMERIC) come back as JavaScript numbers, as SQLite gives
 * them: every such value here is far below 2^53, and the repositories' records are typed as numbers.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (format !== 'binary' && (oid === INT8_OID || oid === NUMERIC_OID)) return toNumber;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

/**
 * The URL parsed the way node-postgres parses it, but with the password behind a function: the config (kept by the
 * pool and every client) then holds no printable copy of it, whoever logs or serializes them.
 */
export function clientConfig(url: string): pg.ClientConfig {
  const { password, connectionString: _none, ...parsed } = parseIntoClientConfig(url);
  const secret = typeof password === 'string' && password !== '' ? password : undefined;
  return {
    ...parsed,
    ...(secret !== undefined ? { password: (): string => secret } : {}),
    types,
    application_name: parsed.application_name ?? 'tollgate-control',
    // A commit acknowledged to a client must be on stable storage before the service answers 2xx: enforce it for
    // our sessions whatever the server's or the database's default is.
    options: `${parsed.options ?? ''} -c synchronous_commit=on`.trim(),
    keepAlive: true,
    // A database that does not answer fails the request (503, see store/unavailable.ts) instead of hanging it.
    connectionTimeoutMillis: 5000,
  };
}

export function createPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(url), max });
  // An idle client losing its connection (server restart) emits 'error' on the pool; without a listener that would
  // crash the process. The next query simply gets a fresh connection.
  pool.on('error', () => undefined);
  return pool;
}

/** A connection of its own (not from the pool), connected. The caller ends it. */
export async function connectClient(url: string): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(url));
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** SQLSTATE of a PostgreSQL error, or undefined. */
export function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && err instanceof Error ? code : undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure

export type Isolation = 'READ COMMITTED' | 'REPEATABLE READ';

/**
 * Runs `fn` in one transaction on one pooled connection; commits, or rolls back and rethrows. A deadlock or
 * serialization failure (PostgreSQL chose this transaction as the victim; nothing of it happened) is retried.
 */
export async function transaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, options: { isolation?: Isolation; readOnly?: boolean } = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    // The pool listens for errors only on idle clients. A checked-out one whose server goes away between two queries
    // (PostgreSQL restarted mid-transaction) emits 'error' with no listener, which would crash the process; the
    // transaction's next query fails instead, and the connection is destroyed on release.
    const onError = (err: Error): void => { broken = err; };
    client.on('error', onError);
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${options.isolation ?? 'READ COMMITTED'}${options.readOnly === true ? ' READ ONLY' : ''}`);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: unknown) => { broken = e as Error; });
      if (attempt < 5 && RETRYABLE.has(pgCode(err) ?? '')) continue;
      throw err;
    } finally {
      client.off('error', onError);
      // A connection whose ROLLBACK failed is in an unknown state: destroy it rather than return it to the pool.
      client.release(broken);
    }
  }
}
