import { Type } from '@sinclair/typebox';
import { PERIODS } from '../../contracts/filter-config.js';
import { Id, Name, Strict, Timestamp } from './common.js';

// The periods are the filter-config contract's; spread into literals so the type checker keeps each one.
const [second, minute, hour, day, month] = PERIODS;
export const Limit = Type.Object({
  requests: Type.Integer({ minimum: 1, maximum: 2147483647 }),
  per: Type.Union([Type.Literal(second), Type.Literal(minute), Type.Literal(hour), Type.Literal(day), Type.Literal(month)]),
}, Strict);
export const PlanCreate = Type.Object({
  name: Name,
  limits: Type.Array(Limit, { maxItems: 8 }),
  apiIds: Type.Array(Id, { maxItems: 256, uniqueItems: true }),
}, Strict);
export const PlanPatch = Type.Partial(PlanCreate, { ...Strict, minProperties: 1 });
export const PlanView = Type.Object({
  id: Id, name: Type.String(), limits: Type.Array(Limit), apiIds: Type.Array(Id), createdAt: Timestamp, updatedAt: Timestamp,
});
