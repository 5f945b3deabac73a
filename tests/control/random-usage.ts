// Random usage batches for exactness tests (the billing export, the top ranking): entries drawn from the given keys,
// APIs and operations, each (minute, key, API, outcome, operation) at most once per batch; and a sender that posts a
// batch once, retried in sequence, or raced by concurrent copies, asserting the service stored exactly one copy.
import assert from 'node:assert/strict';
import { batchId } from './helpers.js';

export type StoredOutcome = 'allowed' | 'rejected_quota' | 'rejected_auth' | 'rejected_forbidden';
export interface Entry {
  minute: number; keyId: string; apiId: string; outcome: StoredOutcome; count: number;
  units?: number; wouldReject?: number; operationId?: string; status?: Record<string, number>;
}

export interface Draw { keys: readonly string[]; apis: readonly string[]; operations: readonly string[]; minute: () => number; status?: boolean }

/** 1 … 12 entries; allowed ones spend 1–3 units per request, some would have been rejected, `status` splits 2xx/5xx. */
export function randomEntries(random: () => number, d: Draw): Entry[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const seen = new Set<string>();
  const entries: Entry[] = [];
  const n = 1 + Math.floor(random() * 12);
  for (let i = 0; i < n; i++) {
    const minute = d.minute();
    const outcome = pick<StoredOutcome>(['allowed', 'allowed', 'allowed', 'rejected_quota', 'rejected_auth', 'rejected_forbidden']);
    const keyId = outcome === 'rejected_auth' ? '' : pick(d.keys);
    const apiId = pick(d.apis);
    const operationId = pick(d.operations);
    const id = `${minute}/${keyId}/${apiId}/${outcome}/${operationId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const count = 1 + Math.floor(random() * 50);
    const e: Entry = { minute, keyId, apiId, outcome, count, ...(operationId === '' ? {} : { operationId }) };
    if (outcome === 'allowed') {
      e.units = count * (1 + Math.floor(random() * 3));
      const wouldReject = Math.floor(random() * count);
      if (wouldReject > 0) e.wouldReject = wouldReject;
      if (d.status === true) {
        const ok = Math.floor(random() * (count + 1));
        e.status = { '2xx': ok, '5xx': count - ok };
      }
    }
    entries.push(e);
  }
  return entries;
}

/** Posts one batch `copies` times (in sequence, or all at once when `raced`) with the reporter token; one is stored. */
export async function sendBatch(base: string, token: string, entries: readonly Entry[], copies: number, raced: boolean): Promise<void> {
  const body = JSON.stringify({ version: 1, batchId: batchId(), reporter: '0123456789abcdef', entries, dropped: 0 });
  const post = (): Promise<Response> => fetch(`${base}/v1/usage/reports`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body,
  });
  const replies = raced ? await Promise.all(Array.from({ length: copies }, post)) : [];
  if (!raced) for (let i = 0; i < copies; i++) replies.push(await post());
  const answers = await Promise.all(replies.map(async (r) => { assert.equal(r.status, 200, await r.clone().text()); return r.json() as Promise<{ duplicate: boolean }>; }));
  assert.equal(answers.filter((a) => !a.duplicate).length, 1, 'exactly one copy is stored');
}
