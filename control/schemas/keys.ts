import { Type } from '@sinclair/typebox';
import { Id, NullableTimestamp, Strict, Timestamp } from './common.js';

export const KeyCreate = Type.Object({ planId: Id, expiresAt: Type.Optional(Timestamp) }, Strict);
export const KeyRotate = Type.Object({ gracePeriodSeconds: Type.Integer({ minimum: 0, maximum: 30 * 86_400 }) }, Strict);
export const KeyView = Type.Object({
  id: Id,
  consumerId: Id,
  planId: Id,
  prefix: Type.String({ description: 'first characters of the key, for telling keys apart' }),
  status: Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('expired'), Type.Literal('rotating')]),
  createdAt: Timestamp,
  expiresAt: NullableTimestamp,
  revokedAt: NullableTimestamp,
  replacedBy: Type.Union([Id, Type.Null()]),
});
/** Only the creation and rotation responses carry the plaintext key. */
export const KeyCreated = Type.Composite([KeyView, Type.Object({ key: Type.String({ description: 'shown once, never stored' }) })]);
