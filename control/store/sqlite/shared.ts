// Pieces every SQLite repository uses: the clock and change callback they get, paging and unique-name handling.
import { ConflictError } from '../../errors.js';
import type { Limit, Page } from '../types.js';
import { isConstraint } from './open.js';

export type Clock = () => number;
export type OnChange = () => void;
/** Resolves once every committed write is on stable storage (see wal-sync.ts). */
export type Durable = () => Promise<void>;

export function page<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
}

export function uniqueName<T>(resource: string, name: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (isConstraint(err, 'SQLITE_CONSTRAINT_UNIQUE')) throw new ConflictError(`${resource} name '${name}' is already used`);
    throw err;
  }
}


/** Plan limits as stored (JSON text): parsed here only, for every repository that reads a plan. */
export function parseLimits(json: string): Limit[] {
  return JSON.parse(json) as Limit[];
}
