// GET /v1/usage/top (docs/control.md "Top consumers"): the query and the reply.
import { Type } from '@sinclair/typebox';
import { OUTCOME_EDGES, OUTCOMES } from '../../contracts/usage-report.js';
import { Id, Strict, Timestamp } from './common.js';

export const TOP_DIMENSIONS = ['consumer', 'key', 'api', 'operation', 'plan'] as const;
/** At most this many groups per ranking. */
export const MAX_TOP = 100;

export const UsageTopQuery = Type.Object({
  by: Type.Union(TOP_DIMENSIONS.map((d) => Type.Literal(d)), { default: 'consumer', description: 'what to rank' }),
  from: Type.Optional({ ...Timestamp, description: 'start, ISO-8601 UTC; widened to its UTC hour (default: 24 hours before `to`)' }),
  to: Type.Optional({ ...Timestamp, description: 'end (exclusive), ISO-8601 UTC; widened to the end of its UTC hour (default: now)' }),
  limit: Type.Integer({ minimum: 1, maximum: MAX_TOP, default: 10, description: 'at most this many groups' }),
  outcome: Type.Optional(Type.Union(OUTCOMES.map((o) => Type.Literal(OUTCOME_EDGES[o].rest)), {
    description: 'count only requests of this outcome (default: every outcome)',
  })),
  apiId: Type.Optional({ ...Id, description: 'only requests to this API' }),
}, Strict);

const Count = Type.Integer({ minimum: 0 });
export const UsageTopItem = Type.Object({
  id: Type.String({ description: "the consumer, key, API, operation or plan id; '' for requests without one (no key, a deleted key's consumer and plan, no operation)" }),
  requests: { ...Count, description: 'requests in the range (of `outcome` when asked; else every outcome): the ranking' },
  allowed: Count, rejectedQuota: Count, rejectedAuth: Count, rejectedForbidden: Count,
  units: { ...Count, description: 'units the allowed requests spent against quota' },
  wouldReject: { ...Count, description: 'allowed requests a shadow limit would have rejected' },
  apiId: Type.Optional({ ...Type.String(), description: 'by=operation: the operation\'s API' }),
  consumerId: Type.Optional({ ...Type.String(), description: 'by=key: the key\'s consumer' }),
});
export const UsageTopView = Type.Object({
  by: Type.Union(TOP_DIMENSIONS.map((d) => Type.Literal(d))),
  from: { ...Timestamp, description: 'the first hour counted' },
  to: { ...Timestamp, description: 'the end of the last hour counted (exclusive)' },
  items: Type.Array(UsageTopItem, { description: 'largest `requests` first, ties by id (bytewise); groups without requests are left out' }),
});
