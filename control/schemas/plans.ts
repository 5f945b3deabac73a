import { Type } from '@sinclair/typebox';
import { PERIODS } from '../../contracts/filter-config.js';
import { MAX_OPERATION_LIMITS, MAX_PLAN_LIMITS } from '../limit-rules.js';
import { Id, Name, Strict, Timestamp } from './common.js';

// The periods are the filter-config contract's; spread into literals so the type checker keeps each one.
const [second, minute, hour, day, month] = PERIODS;
const Per = Type.Union([Type.Literal(second), Type.Literal(minute), Type.Literal(hour), Type.Literal(day), Type.Literal(month)]);
/** A limit's name in a 429 and in RateLimit-Policy: the default ids (`<apiId>/<operationId>:<per>`) use `/` and `:`. */
export const LimitId = Type.String({ pattern: '^[A-Za-z0-9._:/-]{1,64}$', maxLength: 64 });
const requests = Type.Integer({ minimum: 1, maximum: 2147483647, description: 'units per window (a request spends its operation\'s cost, 1 without operations)' });
const shadow = Type.Boolean({ description: 'decided and counted (wouldReject in usage), never enforced' });
export const Limit = Type.Object({
  requests,
  per: Per,
  id: Type.Optional(Type.String({ ...LimitId, description: 'unique in the plan; default <per>, <apiId>:<per> or <apiId>/<operationId>:<per>' })),
  apiId: Type.Optional(Type.String({ ...Id, description: 'only requests to this API (one of the plan\'s apiIds)' })),
  operationId: Type.Optional(Type.String({ ...Id, description: 'only requests to this operation of apiId (an op_… id)' })),
  shadow: Type.Optional(shadow),
}, Strict);
/** An operation's default limit (x-tollgate `limits`): scoped to its operation, for every plan that includes its API. */
export const OperationLimit = Type.Object({ requests, per: Per, id: Type.Optional(LimitId), shadow: Type.Optional(shadow) }, Strict);
export const OperationLimits = Type.Array(OperationLimit, { maxItems: MAX_OPERATION_LIMITS });
export const PlanCreate = Type.Object({
  name: Name,
  limits: Type.Array(Limit, { maxItems: MAX_PLAN_LIMITS }),
  apiIds: Type.Array(Id, { maxItems: 256, uniqueItems: true }),
  shadow: Type.Optional(Type.Boolean({ description: 'every limit of the plan (and every operation default under it) is a shadow limit; default false' })),
}, Strict);
export const PlanPatch = Type.Partial(PlanCreate, { ...Strict, minProperties: 1 });
export const PlanView = Type.Object({
  id: Id, name: Type.String(), limits: Type.Array(Limit), apiIds: Type.Array(Id), shadow: Type.Boolean(), createdAt: Timestamp, updatedAt: Timestamp,
});
