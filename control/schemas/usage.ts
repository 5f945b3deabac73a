import { Type } from '@sinclair/typebox';
import { OUTCOME_EDGES, OUTCOMES, type OutcomeRestField } from '../../contracts/usage-report.js';
import { Id, Strict, Timestamp } from './common.js';
import reportSchema from '../../schemas/usage-report.v1.schema.json' with { type: 'json' };
import replySchema from '../../schemas/usage-reply.v2.schema.json' with { type: 'json' };

/** The public JSON Schemas (the contract with the filter), minus the draft marker fastify's Ajv does not need. */
function contractSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

export const UsageReportBody = contractSchema(reportSchema as Record<string, unknown>);
export const UsageReply = contractSchema(replySchema as Record<string, unknown>);

/**
 * One integer per outcome, named as REST names outcomes (contracts/usage-report.ts), and `units`: what the allowed
 * requests spent against quota (operation costs; one per request where none applies).
 */
const Counts = {
  ...Object.fromEntries(OUTCOMES.map((o) => [OUTCOME_EDGES[o].rest, Type.Integer()])) as Record<OutcomeRestField, ReturnType<typeof Type.Integer>>,
  units: Type.Integer({ description: 'units the allowed requests spent against quota (the sum of their operations\' cost; one per request without operations)' }),
  wouldReject: Type.Integer({ description: 'allowed requests a shadow limit would have rejected (shadow mode: counted, not enforced)' }),
};
export const UsageQuery = Type.Object({
  keyId: Type.Optional(Id),
  consumerId: Type.Optional(Id),
  apiId: Type.Optional(Id),
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
  granularity: Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')], { default: 'hour' }),
}, Strict);
/** Upstream response status classes of the allowed requests. */
const UpstreamStatus = Type.Object({
  '1xx': Type.Integer(), '2xx': Type.Integer(), '3xx': Type.Integer(), '4xx': Type.Integer(), '5xx': Type.Integer(),
});
export const UsageView = Type.Object({
  totals: Type.Object(Counts),
  upstreamStatus: UpstreamStatus,
  series: Type.Array(Type.Object({ start: Timestamp, ...Counts, upstreamStatus: UpstreamStatus })),
});
