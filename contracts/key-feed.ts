// Public format: the key feed (version 1). Keys no longer ride in the WasmPlugin: each Envoy process pulls a paged
// snapshot, then deltas since a revision, from the control service over proxy_http_call, authenticated with its
// target's reporter credential. The contract is docs/key-feed.md and schemas/key-feed.v1.schema.json; the control
// service's feed (control/keyfeed/) and the filter's reader (assembly/keyfeed/) both follow this module, and
// tests/contracts/ proves they agree.
import { createHash } from 'node:crypto';
import type { FleetWindow } from './usage-report.js';

export const KEY_FEED_VERSION = 1;
export const KEY_FEED_SCHEMA = 'schemas/key-feed.v1.schema.json';

/** GET, query `after` (cursor, absent on the first page), `limit`, `reporter`. */
export const KEY_FEED_SNAPSHOT_PATH = '/v1/keyfeed/snapshot';
/** GET, query `epoch`, `since`, `wait` (seconds, long poll), `limit`, `reporter`. */
export const KEY_FEED_DELTAS_PATH = '/v1/keyfeed/deltas';

/** Keys per page unless asked otherwise, and the most one page may hold (about 110 bytes of JSON per key). */
export const KEY_FEED_DEFAULT_PAGE = 2000;
export const KEY_FEED_MAX_PAGE = 10_000;
/** The longest a deltas request may wait for a change before it is answered with none. */
export const KEY_FEED_MAX_WAIT_S = 30;

/**
 * One key as the filter needs it: [digest, keyId, consumerId, planId, expiresAt]. `digest` is the SHA-256 of the key,
 * base64url without padding (43 characters, as `control/key-material.ts` makes it); `expiresAt` is a unix second,
 * 0 when the key never expires. Quota belongs to `<planId>/<consumerId>`.
 */
export type FeedKey = [digest: string, keyId: string, consumerId: string, planId: string, expiresAt: number];

/**
 * What happened to a key. add and rotate leave it in the set (a rotated key is the old key with its grace expiry);
 * revoke and expire take it out. The filter acts only on that: present or absent.
 */
export const FEED_OPS = ['add', 'rotate', 'revoke', 'expire'] as const;
export type FeedOp = (typeof FEED_OPS)[number];
export const OP_KEEPS_KEY: Record<FeedOp, boolean> = { add: true, rotate: true, revoke: false, expire: false };

export interface FeedChange { op: FeedOp; key: FeedKey }

/** Refill periods of a credit balance: UTC calendar boundaries, as limit windows are aligned (filter-config.ts). */
export const CREDIT_REFILL_PERIODS = ['hour', 'day', 'month'] as const;
export type CreditRefillPer = (typeof CREDIT_REFILL_PERIODS)[number];

/**
 * A subscription's credit balance (docs/key-feed.md "Credits"):
 * [subscription, grant, balance, refillAmount, refillPer, since].
 * - `subscription`: `<planId>/<consumerId>`, as quota; a subscription has at most one balance.
 * - `grant`: opaque id (at most 32 characters [A-Za-z0-9_-]); a new one whenever an operator sets the balance or the
 *   refill. Counting restarts with a new grant.
 * - `since`: unix second, a minute boundary: units spent from then on (allowed requests' units, the fleet's and this
 *   proxy's) are taken from `balance`.
 * - `refillPer` "" → never refills (a prepaid balance). Otherwise, at every UTC boundary of `refillPer` after `since`
 *   the balance BECOMES `refillAmount` (it is not added to what is left) and counting restarts at that boundary.
 * A request whose operation costs N > 0 units is admitted only if spent + N ≤ the current balance and every limit
 * admits; an admitted request spends N. Cost 0 never reads the balance. The 429 for an exhausted balance names the
 * limit "credits". Balances are integers 0 … 2^53−1.
 */
export type FeedCredit = [subscription: string, grant: string, balance: number, refillAmount: number, refillPer: CreditRefillPer | '', since: number];
/** The id a denial by the credit balance carries (the 429's `limit`, `RateLimit-Policy`). */
export const CREDIT_LIMIT_ID = 'credits';
/** A credit balance changed (`set`: new or replaced grant) or was removed (`remove`: the subscription has none). */
export interface FeedCreditChange { op: 'set' | 'remove'; credit: FeedCredit }
/**
 * Units the rest of the fleet spent against a grant: the control service's stored units since `from` (the grant's
 * `since`, or the current refill boundary) minus the asking reporter's own. Sent with snapshot pages, deltas and
 * usage replies, like fleet windows; a proxy applies it only to the grant and `from` it names.
 */
export interface CreditSpend { subscription: string; grant: string; from: number; others: number }

/**
 * One page of a snapshot. Pages are ordered by digest; `next` is the cursor of the following page (null on the last).
 * `revision` is the feed's head when the page was read. The last page carries `digest`, the set digest at that
 * revision, and `fleet`, the current fleet windows of the reporter's scope (as a usage sync reply has them).
 * Pages are read at different revisions: a proxy asks deltas since the FIRST page's revision (they re-state every key
 * changed since, so ranges read earlier catch up); the last page's digest can be checked at once only when every
 * page carried the same revision, otherwise the digest to check is that of the delta ending with `more: false`.
 */
export interface SnapshotPage {
  version: typeof KEY_FEED_VERSION; kind: 'snapshot'; epoch: string; revision: number; keys: FeedKey[]; next: string | null;
  digest?: string; fleet?: FleetWindow[];
  /**
   * Credit balances of the scope's subscriptions, paged after the keys: once every key was sent, pages carry `keys: []`
   * and `credits`, ordered by subscription, and `next` continues as "c:<subscription>". Absent: none on this page.
   * Additive in version 1. `creditSpend` (last page, with `fleet`): the fleet's spend against those balances.
   */
  credits?: FeedCredit[]; creditSpend?: CreditSpend[];
}

/**
 * The changes with revisions in (`since`, `revision`], in revision order, each key at most once (its latest state).
 * `more`: the page limit cut the range short; ask again from `revision` at once. When `more` is false, `digest` is
 * the set digest at `revision`. `fleet`: the current windows of the subscriptions of keys added in this delta.
 */
export interface DeltaPage {
  version: typeof KEY_FEED_VERSION; kind: 'delta'; epoch: string; since: number; revision: number; more: boolean;
  changes: FeedChange[]; digest?: string; fleet?: FleetWindow[];
  /** Credit balances changed in (`since`, `revision`] (latest state each), and the fleet's spend against new ones. */
  credits?: FeedCreditChange[]; creditSpend?: CreditSpend[];
}

/**
 * Deltas cannot be served from `since` (another epoch: the store was replaced or restored; or revisions older than
 * the history kept): HTTP 410 with this problem type. The proxy takes a fresh snapshot.
 */
export const SNAPSHOT_REQUIRED_TYPE = 'https://tollgate.dev/problems/snapshot-required';

/**
 * The set digest: 16 hex characters, the bytewise XOR over every key in the set of the first 8 bytes of
 * SHA-256(entryLine(key)). Order-free and updated in O(1) per change by both sides: XOR out the old entry, XOR in the
 * new. The empty set's digest is "0000000000000000". A consistency check, not a security boundary: the feed is
 * authenticated and travels inside the mesh.
 */
export const EMPTY_SET_DIGEST = '0000000000000000';

/** The bytes hashed per key: its fields joined by "\n", expiresAt in decimal. */
export function entryLine(k: FeedKey): string {
  return `${k[0]}\n${k[1]}\n${k[2]}\n${k[3]}\n${k[4]}`;
}

/** The 8 bytes a key contributes to the set digest. */
export function entryHash(k: FeedKey): Buffer {
  return createHash('sha256').update(entryLine(k), 'utf8').digest().subarray(0, 8);
}

/** XORs `b` into `acc` (8 bytes each), in place. */
export function xorInto(acc: Buffer, b: Buffer): Buffer {
  for (let i = 0; i < 8; i++) acc[i]! ^= b[i]!;
  return acc;
}

/** The bytes hashed per credit balance: "credit" then its fields, joined by "\n" (numbers in decimal). */
export function creditLine(c: FeedCredit): string {
  return `credit\n${c[0]}\n${c[1]}\n${c[2]}\n${c[3]}\n${c[4]}\n${c[5]}`;
}

/** The 8 bytes a credit balance contributes to the set digest (the digest covers keys and balances alike). */
export function creditHash(c: FeedCredit): Buffer {
  return createHash('sha256').update(creditLine(c), 'utf8').digest().subarray(0, 8);
}

/** The set digest of `keys` (and credit balances) computed from scratch (the incremental form must always equal it). */
export function setDigest(keys: Iterable<FeedKey>, credits: Iterable<FeedCredit> = []): string {
  const acc = Buffer.alloc(8);
  for (const k of keys) xorInto(acc, entryHash(k));
  for (const c of credits) xorInto(acc, creditHash(c));
  return acc.toString('hex');
}
