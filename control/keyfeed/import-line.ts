// One line of a key import (POST /v1/keys:import, NDJSON), checked by hand rather than by a schema validator: a
// million lines go through here, and each answer names what is wrong with the line. Pure.
import type { ImportKey } from '../store/repository.js';

/** A line longer than this is refused without being parsed (a key's line is ~200 bytes). */
export const MAX_IMPORT_LINE_BYTES = 4096;
/**
 * Lines stored per transaction: memory stays bounded whatever the body's size (a bad line costs only itself either
 * way). Digests are random, so every transaction dirties most of the digest index's pages: 20,000 per transaction
 * imported 1M keys about 1.5x faster than 5,000, while holding SQLite's write lock for well under a second.
 */
export const IMPORT_CHUNK = 20_000;

const ID = /^[A-Za-z0-9._:-]{1,64}$/;
const DIGEST = /^[A-Za-z0-9_-]{43}$/;
const PREFIX = /^[\x21-\x7e]{0,16}$/;
const FIELDS = new Set(['id', 'digest', 'consumerId', 'planId', 'expiresAt', 'prefix']);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The key a line stands for, or what is wrong with it. */
export function parseImportLine(line: string): ImportKey | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { error: 'not a JSON object' };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { error: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FIELDS.has(k)) return { error: `${k}: unknown field` };
  if (typeof o.digest !== 'string' || !DIGEST.test(o.digest)) return { error: 'digest: must be the base64url SHA-256 of the key (43 characters, no padding)' };
  if (typeof o.consumerId !== 'string' || !ID.test(o.consumerId)) return { error: 'consumerId: must be an id' };
  if (typeof o.planId !== 'string' || !ID.test(o.planId)) return { error: 'planId: must be an id' };
  if (o.id !== undefined && (typeof o.id !== 'string' || !ID.test(o.id))) return { error: 'id: must be an id (1-64 of A-Z a-z 0-9 . _ : -)' };
  if (o.prefix !== undefined && (typeof o.prefix !== 'string' || !PREFIX.test(o.prefix))) return { error: 'prefix: at most 16 printable ASCII characters' };
  let expiresAt: number | null = null;
  if (o.expiresAt !== undefined && o.expiresAt !== null) {
    const t = typeof o.expiresAt === 'string' && ISO.test(o.expiresAt) ? Date.parse(o.expiresAt) : NaN;
    if (Number.isNaN(t)) return { error: 'expiresAt: must be an ISO-8601 date-time or null' };
    expiresAt = Math.floor(t / 1000);
  }
  return {
    ...(o.id !== undefined ? { id: o.id as string } : {}),
    digest: o.digest, consumerId: o.consumerId, planId: o.planId, expiresAt, prefix: (o.prefix as string | undefined) ?? '',
  };
}

/**
 * Splits a byte stream into lines without holding more than one line (plus a chunk) in memory; calls `onLine` with
 * each line's 1-based number, awaiting it (so a slow consumer slows the reading: backpressure). CRLF is accepted.
 */
export async function forEachLine(body: AsyncIterable<Buffer | string>, onLine: (line: string, n: number) => Promise<void> | void,
  onTooLong: (n: number) => Promise<void> | void): Promise<number> {
  let n = 0;
  let carry: Buffer[] = [];
  let carried = 0;
  let skipping = false;
  const emit = async (bytes: Buffer): Promise<void> => {
    n++;
    if (skipping || bytes.length > MAX_IMPORT_LINE_BYTES) {
      skipping = false;
      await onTooLong(n);
      return;
    }
    let s = bytes.toString('utf8');
    if (s.endsWith('\r')) s = s.slice(0, -1);
    await onLine(s, n);
  };
  for await (const part of body) {
    let buf = typeof part === 'string' ? Buffer.from(part) : part;
    let i: number;
    while ((i = buf.indexOf(0x0a)) !== -1) {
      const head = buf.subarray(0, i);
      await emit(carry.length === 0 ? head : Buffer.concat([...carry, head]));
      carry = [];
      carried = 0;
      buf = buf.subarray(i + 1);
    }
    if (buf.length > 0 && !skipping) {
      carried += buf.length;
      // A line that never ends must not fill the memory: drop it and report it when its end comes.
      if (carried > MAX_IMPORT_LINE_BYTES) {
        skipping = true;
        carry = [];
        carried = 0;
      } else carry.push(Buffer.from(buf));
    }
  }
  if (carry.length > 0 || skipping) await emit(Buffer.concat(carry));
  return n;
}
