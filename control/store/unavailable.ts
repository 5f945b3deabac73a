// Whether an error means the database cannot be reached right now (as opposed to a bad request or a bug): the
// service then answers 503 with Retry-After, nothing is half-written (every write is one transaction), and clients
// (proxies retrying their usage batches included) try again later.

/** Node socket errors and PostgreSQL's connection-exception (08…) and operator-intervention (57P…) classes. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

export function isStoreUnavailable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || code.startsWith('08') || code.startsWith('57P') || code === '53300')) return true;
  const message = (err as { message?: unknown }).message;
  // node-postgres' own wording when the server goes away mid-query or a pooled connection cannot be had in time.
  return typeof message === 'string' && /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}
