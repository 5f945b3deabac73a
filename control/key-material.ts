// Ids, API keys and tokens: generation and the one-way digest that is all the store and the proxies ever see.
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const KEY_PREFIX = 'tgk_';
/** Characters of a key shown in listings so people can tell keys apart: 'tgk_' + 4. */
const DISPLAY_PREFIX_LENGTH = KEY_PREFIX.length + 4;

export type IdKind = 'api' | 'pln' | 'con' | 'key' | 'tgt' | 'op';

/** Short ids (prefix + 10 base62 chars, ~59 bits): they are shipped per key to every proxy. */
export function newId(kind: IdKind): string {
  let out = `${kind}_`;
  for (let i = 0; i < 10; i++) out += BASE62[randomInt(62)];
  return out;
}

/** SHA-256 of the UTF-8 bytes, base64url without padding: the filter-config `digest`. */
export function digestOf(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

export interface NewKey { key: string; digest: string; prefix: string }

export function newApiKey(): NewKey {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, digest: digestOf(key), prefix: key.slice(0, DISPLAY_PREFIX_LENGTH) };
}

export function newToken(prefix: 'tga_' | 'tgr_'): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** Constant-time comparison of a presented secret against a stored digest. */
export function matchesDigest(presented: string, digest: string): boolean {
  const a = Buffer.from(digestOf(presented));
  const b = Buffer.from(digest);
  return a.length === b.length && timingSafeEqual(a, b);
}
