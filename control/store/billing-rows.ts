// A batch's minute rows as the billing table's hourly rows (migration 016): summed per hour, consumer, plan, API,
// operation and outcome, so a batch costs one upsert per distinct row, not one per entry. Pure.
import type { UsageRow } from './repository.js';
import { STATUS_CLASSES, type StatusCounts } from './types.js';

export interface BillingRow {
  start: number; consumerId: string; planId: string; apiId: string; operationId: string; outcome: string;
  count: number; units: number; wouldReject: number; status: StatusCounts;
}

export function billingHours(rows: readonly UsageRow[]): BillingRow[] {
  const byId = new Map<string, BillingRow>();
  for (const r of rows) {
    const start = r.start - (r.start % 3600);
    const operationId = r.operationId ?? '';
    const planId = r.planId ?? '';
    const id = `${start}\u0000${r.consumerId}\u0000${planId}\u0000${r.apiId}\u0000${operationId}\u0000${r.outcome}`;
    let b = byId.get(id);
    if (b === undefined) {
      b = { start, consumerId: r.consumerId, planId, apiId: r.apiId, operationId, outcome: r.outcome, count: 0, units: 0, wouldReject: 0, status: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 } };
      byId.set(id, b);
    }
    b.count += r.count;
    b.units += r.units;
    b.wouldReject += r.wouldReject ?? 0;
    for (const c of STATUS_CLASSES) b.status[c] += r.status[c];
  }
  return [...byId.values()];
}
