// Shared TypeBox pieces. REST timestamps are ISO-8601 UTC strings everywhere (docs/control.md).
import { Type, type TSchema } from '@sinclair/typebox';

export const Strict = { additionalProperties: false } as const;

export const IdPattern = '^[A-Za-z0-9._:-]{1,64}$';
export const Id = Type.String({ pattern: IdPattern, maxLength: 64 });
export const Name = Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\s].*$' });
export const Timestamp = Type.String({ format: 'date-time', description: 'ISO-8601 UTC' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const IdParams = Type.Object({ id: Id }, Strict);

export const PageQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 128, pattern: '^[A-Za-z0-9_-]*$' })),
}, Strict);

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}

/** RFC 9457 problem details. */
export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
});

export const ProblemResponses = {
  400: Problem, 401: Problem, 404: Problem, 409: Problem, 422: Problem,
} as const;

export const NoContent = Type.Null({ description: 'no body' });
