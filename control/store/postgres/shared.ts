// Pieces every PostgreSQL repository uses: the clock and change callback they get, paging, and the translation of
// constraint violations into the store's errors (the same ones SQLite's repositories throw).
import { ConflictError } from '../../errors.js';
import type { Limit, Page } from '../types.js';
import { pgCode, UNIQUE_VIOLATION } from './connection.js';

export type Clock = () => number;
export type OnChange = () => void;

export function page<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
}

/** Runs a write whose only unique constraint a caller can break is the name: a violation is a 409. */
export async function uniqueName<T>(resource: string, name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (pgCode(err) === UNIQUE_VIOLATION) throw new ConflictError(`${resource} name '${name}' is already used`);
    throw err;
  }
}

/** Plan limits as stored (JSON text): parsed here only, for every repository that reads a plan. */
export function parseLimits(json: string): Limit[] {
  return JSON.parse(json) as Limit[];
}
