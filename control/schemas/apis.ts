import { Type, type Static } from '@sinclair/typebox';
import { Id, Name, Strict, Timestamp } from './common.js';

// The full prefix rule is control/path-prefix.ts (checked by the routes: a pattern could not explain a refusal); the
// schema keeps the cheap bounds and documents the rule.
const PathPrefix = Type.String({
  pattern: '^/', minLength: 1, maxLength: 1024,
  description: "In the filter's normalized form: '/'-led ASCII, no '//', '.' or '..' segments, '?', '#', ';', '\\', "
    + 'spaces or control characters; other characters percent-encoded with uppercase hex, never an unreserved character, '
    + "'/' or '\\' (see docs/control.md)",
});
// The filter compares a host entry whole with the request's authority lowercased and without its port: so an entry
// is a lowercase DNS name (labels of letters, digits and inner hyphens, <= 63 each, <= 253 in all), optionally led by
// '*.' for subdomains. A port, userinfo or empty label could never match; a trailing dot would match only requests
// that spell the name with one (write the name without it).
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST_PATTERN = `^(?:\\*\\.)?(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`;
const Hosts = Type.Array(Type.String({ pattern: HOST_PATTERN, maxLength: 255 }), { maxItems: 64, uniqueItems: true });
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
