// First start: create the demo API, plan, consumer and key through the REST API, exactly as a user would, and
// remember the ids (never the key) so later starts know the demo exists.
import type { AdminClient } from './admin-client.js';
import type { SeedRecord } from './home.js';

export const DEMO = {
  apiName: 'demo',
  pathPrefix: '/demo',
  planName: 'demo-5-per-minute',
  limit: { requests: 5, per: 'minute' as const },
  consumerName: 'demo-consumer',
};

export interface SeedResult {
  record: SeedRecord;
  /** Plaintext key, shown once. */
  key: string;
}

export async function seedDemo(admin: AdminClient, now: Date = new Date()): Promise<SeedResult> {
  const api = await admin.call<{ id: string }>('POST', '/v1/apis', { name: DEMO.apiName, pathPrefix: DEMO.pathPrefix });
  const plan = await admin.call<{ id: string }>('POST', '/v1/plans', { name: DEMO.planName, limits: [DEMO.limit], apiIds: [api.id] });
  const consumer = await admin.call<{ id: string }>('POST', '/v1/consumers', { name: DEMO.consumerName });
  const key = await admin.call<{ id: string; key: string }>('POST', `/v1/consumers/${consumer.id}/keys`, { planId: plan.id });
  return {
    record: { apiId: api.id, planId: plan.id, consumerId: consumer.id, keyId: key.id, seededAt: now.toISOString() },
    key: key.key,
  };
}
