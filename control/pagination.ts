// Opaque list cursors: the last id of a page, base64url-encoded so clients do not build them.
import { ProblemError } from './errors.js';
import type { PageRequest } from './store/types.js';

export function encodeCursor(lastId: string | null): string | null {
  return lastId === null ? null : Buffer.from(lastId, 'utf8').toString('base64url');
}

export function pageRequest(query: { limit: number; cursor?: string }): PageRequest {
  if (query.cursor === undefined || query.cursor === '') return { limit: query.limit, after: undefined };
  const after = Buffer.from(query.cursor, 'base64url').toString('utf8');
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(after)) throw new ProblemError(400, 'Invalid request', 'cursor: not a cursor this service issued');
  return { limit: query.limit, after };
}
