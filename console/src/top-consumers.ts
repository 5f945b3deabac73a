// Pure: consumers ranked by requests in the range (all outcomes), ties by name; the console's "top consumers" table.
import type { ConsumerView, UsageView } from './types';
import { totalRequests } from './usage-series';

export interface ConsumerRank { id: string; name: string; requests: number; allowed: number; denied: number; units: number }

export function rankConsumers(rows: { consumer: ConsumerView; usage: UsageView }[], top: number): ConsumerRank[] {
  return rows
    .map(({ consumer, usage }) => {
      const requests = totalRequests(usage);
      return { id: consumer.id, name: consumer.name, requests, allowed: usage.totals.allowed, denied: requests - usage.totals.allowed, units: usage.totals.units };
    })
    .filter((r) => r.requests > 0)
    .sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name))
    .slice(0, top);
}
