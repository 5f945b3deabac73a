// GET /v1/usage/top: the largest consumers (keys, APIs, operations, plans) of a range, ranked by the store in SQL over
// hourly rows (docs/control.md "Top consumers"), so a console need not read usage once per consumer.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ProblemResponses } from '../../../schemas/common.js';
import { UsageTopQuery, UsageTopView } from '../../../schemas/usage-top.js';
import { ProblemError } from '../../../errors.js';
import { OUTCOME_EDGES, OUTCOMES, type Outcome } from '../../../../contracts/usage-report.js';
import { iso, unixOf } from '../views.js';

const DEFAULT_RANGE = 86_400;
const HOUR = 3600;

/** The whole UTC hours [from, to) touches: the rows are hourly, so the range is widened to them (and says so). Pure. */
export function hourRange(from: number, to: number): { from: number; to: number } {
  return { from: Math.floor(from / HOUR) * HOUR, to: Math.ceil(to / HOUR) * HOUR };
}
const OUTCOME_OF_REST = new Map<string, Outcome>(OUTCOMES.map((o) => [OUTCOME_EDGES[o].rest, o]));

export default async function usageTopRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('', {
    schema: {
      tags: ['usage'], summary: 'Top consumers, keys, APIs, operations or plans of a range by requests (whole UTC hours)',
      querystring: UsageTopQuery, response: { 200: UsageTopView, ...ProblemResponses },
    },
  }, async (req) => {
    const q = req.query;
    const now = Math.floor(Date.now() / 1000);
    const to = q.to === undefined ? now + 1 : unixOf(q.to);
    const from = q.from === undefined ? to - DEFAULT_RANGE : unixOf(q.from);
    if (Number.isNaN(from) || Number.isNaN(to)) throw new ProblemError(400, 'Invalid request', 'from/to: not a valid time');
    if (from >= to) throw new ProblemError(400, 'Invalid request', 'from: must be before to');
    const hours = hourRange(from, to);
    const items = await app.store.usage.top({
      by: q.by, from: hours.from, to: hours.to, limit: q.limit,
      ...(q.apiId !== undefined ? { apiId: q.apiId } : {}),
      ...(q.outcome !== undefined ? { outcome: OUTCOME_OF_REST.get(q.outcome)! } : {}),
    });
    return { by: q.by, from: iso(hours.from), to: iso(hours.to), items };
  });
}
