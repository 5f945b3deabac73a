// The decision diff of `tollgate replay --policy`: what the filter decided for one request under each configuration,
// whether the two differ, and the totals per consumer and overall that gate a policy change. Pure: no host, no I/O.
import type { StreamResult } from '../contract.js';

/** What the filter decided: the status the client got and why. */
export interface Decision { status: number; reason: string }

/**
 * Reasons of forwarded requests: "allowed" (a key was checked: the upstream got identity headers) and "passed"
 * (forwarded without a key check: no API matched, a passed path form, or no key set yet with whenNoKeys "allow").
 * Every other reason is a local reply: the problem type of the filter's reply (missing-key, invalid-key, forbidden,
 * quota-exceeded, bad-request, method-not-allowed…), "no-plan" (an invalid-key whose key replay had to leave out of
 * that configuration because its plan is not there), or Envoy's response code details of a host reply
 * (wasm_fail_stream…).
 */
export const FORWARDED_REASONS = ['allowed', 'passed'] as const;
const PROBLEM_PREFIX = 'urn:tollgate:problem:';

export const isDenied = (d: Decision): boolean => !(FORWARDED_REASONS as readonly string[]).includes(d.reason);

/** The local reply's problem type, else its details, else "local-reply". */
function replyReason(result: Pick<StreamResult, 'body' | 'details'>): string {
  try {
    const body: unknown = JSON.parse(Buffer.from(result.body).toString('utf8'));
    const type = (body as { type?: unknown } | null)?.type;
    if (typeof type === 'string' && type.startsWith(PROBLEM_PREFIX) && type.length > PROBLEM_PREFIX.length) return type.slice(PROBLEM_PREFIX.length);
  } catch {
    // not problem+json: a host reply (wasm_fail_stream, 413…)
  }
  return result.details !== undefined && result.details !== '' ? result.details : 'local-reply';
}

/**
 * The decision of one stream. `identityHeaders`: the configuration's identity header names (lowercase, empty ones
 * left out): a forwarded request carrying one was allowed with a key. `keyLeftOut`: replay could not give this
 * configuration the request's key (its plan is missing there).
 */
export function decisionOf(result: Pick<StreamResult, 'status' | 'localReply' | 'body' | 'details' | 'upstreamRequest'>,
  identityHeaders: readonly string[], keyLeftOut = false): Decision {
  if (result.localReply || result.upstreamRequest === undefined) {
    const reason = replyReason(result);
    return { status: result.status, reason: keyLeftOut && reason === 'invalid-key' ? 'no-plan' : reason };
  }
  const withIdentity = result.upstreamRequest.headers.some(([name]) => identityHeaders.includes(name.toLowerCase()));
  return { status: result.status, reason: withIdentity ? 'allowed' : 'passed' };
}

export const sameDecision = (a: Decision, b: Decision): boolean => a.status === b.status && a.reason === b.reason;

/** One output line: a request whose decision differs. */
export interface Change {
  line: number; keyId: string | null; consumer: string | null; method: string; path: string;
  current: Decision; candidate: Decision;
}

export interface Counts { requests: number; changed: number; newlyDenied: number; newlyAllowed: number }
const zero = (): Counts => ({ requests: 0, changed: 0, newlyDenied: 0, newlyAllowed: 0 });

/**
 * Buckets of requests not attributable to a consumer. Parentheses cannot occur in ids, so these never collide with a
 * consumer id.
 */
export const NO_KEY = '(no key)';
export const UNKNOWN_KEY = '(unknown key)';

export interface Threshold { maxChanged?: number; maxChangedPct?: number }

export interface Summary extends Counts {
  /** changed / requests × 100, rounded to 2 decimals (0 without requests). */
  changedPct: number;
  skippedLines: number;
  consumers: Record<string, Counts>;
  threshold: Threshold | null;
  exceeded: boolean;
}

/** Totals per consumer and overall. */
export class Totals {
  private readonly all = zero();
  private readonly byConsumer = new Map<string, Counts>();
  skippedLines = 0;

  /** Counts one request under `bucket` (a consumer id, NO_KEY or UNKNOWN_KEY); returns whether its decision changed. */
  add(bucket: string, current: Decision, candidate: Decision): boolean {
    let c = this.byConsumer.get(bucket);
    if (c === undefined) this.byConsumer.set(bucket, (c = zero()));
    const changed = !sameDecision(current, candidate);
    const denied = !isDenied(current) && isDenied(candidate);
    const allowed = isDenied(current) && !isDenied(candidate);
    for (const t of [this.all, c]) {
      t.requests++;
      if (changed) t.changed++;
      if (denied) t.newlyDenied++;
      if (allowed) t.newlyAllowed++;
    }
    return changed;
  }

  summary(threshold: Threshold | null): Summary {
    const consumers: Record<string, Counts> = {};
    for (const id of [...this.byConsumer.keys()].sort()) consumers[id] = { ...this.byConsumer.get(id)! };
    return {
      ...this.all,
      changedPct: changedPct(this.all),
      skippedLines: this.skippedLines,
      consumers,
      threshold,
      exceeded: threshold !== null && exceeds(this.all, threshold),
    };
  }
}

function changedPct(c: Counts): number {
  return c.requests === 0 ? 0 : Math.round((c.changed * 10_000) / c.requests) / 100;
}

/** Over the threshold: more changed requests than `maxChanged`, or a larger share than `maxChangedPct` percent. */
export function exceeds(c: Counts, t: Threshold): boolean {
  if (t.maxChanged !== undefined && c.changed > t.maxChanged) return true;
  // Compared exactly (not on the rounded percentage): 1 change in 30,001 requests is over a 0.00333 % threshold.
  return t.maxChangedPct !== undefined && c.changed * 100 > t.maxChangedPct * c.requests;
}
