// A minimal key-feed client for the tests: pages a snapshot, applies deltas to a mirror of the set, and checks the
// set digest as a proxy would. Also usable by other parts' tests (it speaks the wire format only).
import type { FastifyInstance } from 'fastify';
import { OP_KEEPS_KEY, setDigest, type DeltaPage, type FeedCredit, type FeedKey, type SnapshotPage } from '../../contracts/key-feed.js';

/** `credits`: the scope's credit balances by subscription (docs/key-feed.md "Credits"); absent when never seen. */
export interface Mirror { epoch: string; revision: number; keys: Map<string, FeedKey>; digest: string | undefined; credits?: Map<string, FeedCredit> }

export type Get = (url: string) => Promise<{ statusCode: number; body: string; headers: Record<string, unknown>; json<T>(): T }>;

export function injectGet(app: FastifyInstance, token: string): Get {
  return (url) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
}

/** Every page of a snapshot; throws on a non-200. */
export async function takeSnapshot(get: Get, limit = 2000, reporter?: string): Promise<{ mirror: Mirror; pages: SnapshotPage[] }> {
  const pages: SnapshotPage[] = [];
  let after: string | null = null;
  const keys = new Map<string, FeedKey>();
  const credits = new Map<string, FeedCredit>();
  let first: SnapshotPage | undefined;
  for (;;) {
    const res = await get(`/v1/keyfeed/snapshot?limit=${limit}${after === null ? '' : `&after=${after}`}${reporter === undefined ? '' : `&reporter=${reporter}`}`);
    if (res.statusCode !== 200) throw new Error(`snapshot: ${res.statusCode} ${res.body}`);
    const page = res.json<SnapshotPage>();
    pages.push(page);
    first ??= page;
    for (const k of page.keys) keys.set(k[1], k);
    for (const c of page.credits ?? []) credits.set(c[0], c);
    if (page.next === null) {
      // Pages read at different revisions: deltas from the first page's revision bring every range up to date, and
      // the last page's digest holds only when nothing changed while paging (docs/key-feed.md).
      const digest = page.revision === first.revision ? page.digest : undefined;
      return { mirror: { epoch: page.epoch, revision: first.revision, keys, digest, credits }, pages };
    }
    after = page.next;
  }
}

/** Applies one delta page to the mirror. */
export function applyDelta(m: Mirror, d: DeltaPage): void {
  for (const c of d.changes) {
    if (OP_KEEPS_KEY[c.op]) m.keys.set(c.key[1], c.key);
    else m.keys.delete(c.key[1]);
  }
  for (const c of d.credits ?? []) {
    m.credits ??= new Map();
    if (c.op === 'set') m.credits.set(c.credit[0], c.credit);
    else m.credits.delete(c.credit[0]);
  }
  m.revision = d.revision;
  m.digest = d.digest;
}

/** Follows deltas until `more` is false; returns the pages (throws on a non-200). */
export async function catchUp(get: Get, m: Mirror, limit = 2000, wait = 0): Promise<DeltaPage[]> {
  const pages: DeltaPage[] = [];
  for (;;) {
    const res = await get(`/v1/keyfeed/deltas?epoch=${m.epoch}&since=${m.revision}&limit=${limit}&wait=${wait}`);
    if (res.statusCode !== 200) throw Object.assign(new Error(`deltas: ${res.statusCode} ${res.body}`), { statusCode: res.statusCode });
    const d = res.json<DeltaPage>();
    applyDelta(m, d);
    pages.push(d);
    if (!d.more) return pages;
  }
}

export const mirrorDigest = (m: Mirror): string => setDigest(m.keys.values(), m.credits?.values() ?? []);
