import { Type, type Static } from '@sinclair/typebox';
import { Id, Name, Strict, Timestamp } from './common.js';

const PathPrefix = Type.String({ pattern: '^/', minLength: 1, maxLength: 1024 });
const Hosts = Type.Array(Type.String({ pattern: '^(\\*\\.)?[a-z0-9]([a-z0-9.-]{0,252})?$', maxLength: 255 }), { maxItems: 64, uniqueItems: true });
const Methods = Type.Array(Type.String({ pattern: '^[A-Z]{1,16}$' }), { maxItems: 16, uniqueItems: true });

export const ApiCreate = Type.Object({
  name: Name, pathPrefix: PathPrefix, hosts: Type.Optional(Hosts), methods: Type.Optional(Methods),
}, Strict);
export const ApiPatch = Type.Partial(ApiCreate, { ...Strict, minProperties: 1 });
export const ApiView = Type.Object({
  id: Id, name: Type.String(), pathPrefix: Type.String(), hosts: Type.Array(Type.String()), methods: Type.Array(Type.String()),
  createdAt: Timestamp, updatedAt: Timestamp,
});
export type ApiCreate = Static<typeof ApiCreate>;
