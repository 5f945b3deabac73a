// The key feed's rules, pure: what a key looks like on the wire, how a target's scope picks plans, how a delta is
// collapsed, and when deltas cannot be served (410). The store reads and writes; the routes (routes/v1/keyfeed.ts)
// call these. Wire format: contracts/key-feed.ts, docs/key-feed.md.
import {
  EMPTY_SET_DIGEST, OP_KEEPS_KEY, creditHash, entryHash, xorInto, type FeedChange, type FeedCredit, type FeedCreditChange, type FeedKey, type FeedOp,
} from '../../contracts/key-feed.js';
import { planInScope } from '../usage/fleet.js';
import type { ReporterScope } from '../store/types.js';

/**
 * Where the feed stands (migrations/006-key-feed.ts). `scopeRevision`: the last scope change of the target asked
 * about (or of every target), 0 when none.
 */
export interface FeedState { epoch: string; head: number; scopeRevision: number; horizon: number }

/** One row of the change log. */
export interface LoggedChange { revision: number; op: FeedOp; key: FeedKey }

/** A key write as the store records it: the key's new state and, when it was in the set before, its old entry. */
export interface KeyWrite { op: FeedOp; key: FeedKey; was: FeedKey | null }

/** How long, and how many revisions, the change log keeps by default: older `since` values get a snapshot. */
export const HISTORY_SECONDS = 7 * 86_400;
export const HISTORY_REVISIONS = 2_000_000;

/** The wire form of a key row: expiresAt 0 for a key that never expires. */
export function feedKey(r: { digest: string; id: string; consumer_id: string; plan_id: string; expires_at: number | null }): FeedKey {
  return [r.digest, r.id, r.consumer_id, r.plan_id, r.expires_at ?? 0];
}

export const digestToBuffer = (hex: string): Buffer => Buffer.from(hex, 'hex');

/**
 * The new digests of the plans a batch of writes touches, from their current ones (`current(planId)`, the empty digest
 * for a plan not seen yet): the old entry XORed out, the new one XORed in when the op keeps the key.
 */
export function applyWrites(writes: readonly KeyWrite[], current: (planId: string) => string): Map<string, string> {
  return foldDigests(current, (xor) => {
    for (const w of writes) {
      if (w.was !== null) xor(w.was[3], entryHash(w.was));
      if (OP_KEEPS_KEY[w.op]) xor(w.key[3], entryHash(w.key));
    }
  });
}

/** The plans' digests after `fold` has XORed entries out of and into them (`xor(planId, hash)`), from their current ones. */
function foldDigests(current: (planId: string) => string, fold: (xor: (planId: string, hash: Buffer) => void) => void): Map<string, string> {
  const acc = new Map<string, Buffer>();
  fold((planId, hash) => {
    let b = acc.get(planId);
    if (b === undefined) acc.set(planId, b = digestToBuffer(current(planId)));
    xorInto(b, hash);
  });
  return new Map([...acc].map(([p, b]) => [p, b.toString('hex')]));
}

/** The plans of a scope: null for an unrestricted target (every plan). */
export function scopePlans(plans: ReadonlyMap<string, readonly string[]>, scope: ReporterScope): string[] | null {
  if (scope.apiIds === null) return null;
  return [...plans].filter(([, apiIds]) => planInScope(apiIds, scope)).map(([id]) => id).sort();
}

/** A target's digest: the XOR of its plans' digests (`planIds` null: all of them). */
export function scopeDigest(planDigests: ReadonlyMap<string, string>, planIds: readonly string[] | null): string {
  const acc = digestToBuffer(EMPTY_SET_DIGEST);
  for (const id of planIds ?? planDigests.keys()) {
    const d = planDigests.get(id);
    if (d !== undefined) xorInto(acc, digestToBuffer(d));
  }
  return acc.toString('hex');
}

/**
 * A delta's changes: the rows of the scope's plans only, each key once at its latest state, in the order of those
 * latest revisions. A key moved out of the scope shows as the removal logged for its old plan.
 */
export function collapse(rows: readonly LoggedChange[], planIds: readonly string[] | null): FeedChange[] {
  const inScope = planIds === null ? undefined : new Set(planIds);
  const latest = new Map<string, LoggedChange>();
  for (const r of rows) {
    if (inScope !== undefined && !inScope.has(r.key[3])) continue;
    latest.delete(r.key[1]); // re-inserted: Map order becomes the order of latest revisions
    latest.set(r.key[1], r);
  }
  return [...latest.values()].map((r) => ({ op: r.op, key: r.key }));
}

/**
 * The restricted targets for which a plan's change of APIs moves the plan into or out of scope (an unrestricted
 * target holds every plan whatever its APIs).
 */
export function targetsMovedByPlan(targets: readonly { id: string; apiIds: readonly string[] }[], before: readonly string[], after: readonly string[]): string[] {
  return targets.filter((t) => t.apiIds.length > 0).filter((t) => {
    const scope: ReporterScope = { targetId: t.id, apiIds: new Set(t.apiIds) };
    return planInScope(before, scope) !== planInScope(after, scope);
  }).map((t) => t.id);
}

/** Why deltas since `since` cannot be served (the proxy must take a snapshot), or undefined when they can. */
export function snapshotRequired(state: FeedState, epoch: string, since: number): string | undefined {
  if (epoch !== state.epoch) return `epoch ${epoch} is not this feed's (${state.epoch}): the store was replaced or restored`;
  if (since > state.head) return `revision ${since} is newer than the feed's head (${state.head})`;
  if (since < state.horizon) return `revision ${since} is older than the history kept (from ${state.horizon})`;
  if (since < state.scopeRevision) return `the plans of a scope changed at revision ${state.scopeRevision}, after ${since}`;
  return undefined;
}

/** One row of the credit log (credit_changes), revisions shared with the key log. */
export interface LoggedCredit { revision: number; op: FeedCreditChange['op']; credit: FeedCredit }

/** A balance write as the store records it: its new state (or, for remove, its last) and the state it replaces. */
export interface CreditWrite { op: FeedCreditChange['op']; credit: FeedCredit; was: FeedCredit | null }

/** The plan a balance belongs to (ids never hold '/': `<planId>/<consumerId>`). */
export const planOfCredit = (c: FeedCredit): string => c[0].slice(0, c[0].indexOf('/'));

/**
 * The new digests of the plans a batch of balance writes touches: a balance is XORed into its plan's digest like the
 * plan's keys (contracts/key-feed.ts setDigest covers both), the replaced state out, a set state in.
 */
export function applyCreditWrites(writes: readonly CreditWrite[], current: (planId: string) => string): Map<string, string> {
  return foldDigests(current, (xor) => {
    for (const w of writes) {
      if (w.was !== null) xor(planOfCredit(w.was), creditHash(w.was));
      if (w.op === 'set') xor(planOfCredit(w.credit), creditHash(w.credit));
    }
  });
}

/** A delta's balance changes: the scope's plans only, each subscription once at its latest state, in revision order. */
export function collapseCredits(rows: readonly LoggedCredit[], planIds: readonly string[] | null): FeedCreditChange[] {
  const inScope = planIds === null ? undefined : new Set(planIds);
  const latest = new Map<string, LoggedCredit>();
  for (const r of rows) {
    if (inScope !== undefined && !inScope.has(planOfCredit(r.credit))) continue;
    latest.delete(r.credit[0]);
    latest.set(r.credit[0], r);
  }
  return [...latest.values()].map((r) => ({ op: r.op, credit: r.credit }));
}

/**
 * Key and credit log rows of one delta: both logs share revisions, so the page is the first `limit` revisions of the
 * two merged; `last` is the last revision taken (undefined when none).
 */
export function mergeLogs<K extends { revision: number }, C extends { revision: number }>(keys: readonly K[], credits: readonly C[], limit: number): { keys: K[]; credits: C[]; last: number | undefined } {
  const all = [...keys.map((r) => r.revision), ...credits.map((r) => r.revision)].sort((a, b) => a - b).slice(0, limit);
  const last = all.at(-1);
  if (last === undefined) return { keys: [], credits: [], last };
  return { keys: keys.filter((r) => r.revision <= last), credits: credits.filter((r) => r.revision <= last), last };
}
