// Pure: the console's "top consumers" table. From the service's ranking (GET /v1/usage/top: requests of every outcome,
// largest first, ties by id) when it has one; from one usage reply per consumer against older services.
import type { ConsumerView, UsageTopView, UsageView } from './types';
import { totalRequests } from './usage-series';

export interface ConsumerRank { id: string; name: string; requests: number; allowed: number; denied: number; units: number }

/** What the table calls requests that carried no known key (the service ranks them under consumer ''). */
export const NO_CONSUMER = '(no key)';

/** The service's ranking as rows, in its order, named from the catalogue (an id it does not know shows as itself). */
export function topConsumerRows(view: UsageTopView, consumers: readonly ConsumerView[], top: number): ConsumerRank[] {
  const names = new Map(consumers.map((c) => [c.id, c.name]));
  return view.items.slice(0, top).map((i) => ({
    id: i.id, name: i.id === '' ? NO_CONSUMER : names.get(i.id) ?? i.id,
    requests: i.requests, allowed: i.allowed, denied: i.requests - i.allowed, units: i.units,
  }));
}

/** Older services: consumers ranked by requests in the range (all outcomes), ties by name. */
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
