import { OperationLimit } from './plans.js';
import { Type, type Static } from '@sinclair/typebox';
import { Id, Name, Problem, Strict, Timestamp } from './common.js';

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
const UnknownOperation = Type.Union([Type.Literal('reject'), Type.Literal('pass')], {
  description: 'What a request matching none of the operations gets (only with operations): reject → 404/405 after the key check',
});
/** A re-import sets `unknownOperation` from the document again (its x-tollgate, default reject). */
export const ApiPatch = Type.Partial(Type.Object({ ...ApiCreate.properties, unknownOperation: UnknownOperation }), { ...Strict, minProperties: 1 });
export const ImportSource = Type.Object({
  title: Type.String(), version: Type.String(), sha256: Type.String({ description: 'SHA-256 (hex) of the document as sent' }),
});
export const ApiView = Type.Object({
  id: Id, name: Type.String(), pathPrefix: Type.String(), hosts: Type.Array(Type.String()), methods: Type.Array(Type.String()),
  unknownOperation: UnknownOperation,
  operationCount: Type.Integer({ description: 'list them at /v1/apis/{id}/operations' }),
  importedFrom: Type.Union([ImportSource, Type.Null()], { description: 'the OpenAPI document it was last imported from; null: made by hand' }),
  createdAt: Timestamp, updatedAt: Timestamp,
});
const Visibility = Type.Union([Type.Literal('public'), Type.Literal('internal')]);
const OperationFields = {
  operationId: Type.Union([Type.String(), Type.Null()]),
  method: Type.String(),
  path: Type.String({ description: "template in the filter's normalized form, base path included; {name} segments" }),
  cost: Type.Integer({ description: 'units a request spends (default 1)' }),
  visibility: Visibility,
  summary: Type.Union([Type.String(), Type.Null()]),
  limits: Type.Array(OperationLimit, { description: 'default limits (x-tollgate limits) in every plan including the API, unless the plan overrides them' }),
};
export const OperationView = Type.Object({
  id: Id, apiId: Id, key: Type.String({ description: 'keeps the id across re-imports: the operationId, else "METHOD template"' }),
  ...OperationFields, position: Type.Integer({ description: 'order in the document' }),
});
const PartialOperation = Type.Partial(Type.Object(OperationFields));
export const ImportDiffView = Type.Object({
  api: Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('unchanged')]),
  changes: Type.Record(Type.String(), Type.Object({ before: Type.Unknown(), after: Type.Unknown() })),
  operations: Type.Object({
    added: Type.Array(OperationView),
    changed: Type.Array(Type.Object({ id: Id, key: Type.String(), before: PartialOperation, after: PartialOperation })),
    removed: Type.Array(OperationView),
    moved: Type.Integer({ description: 'operations whose only change is their place in the document' }),
    unchanged: Type.Integer(),
  }),
});
export const ImportQuery = Type.Object({
  apiId: Type.Optional(Id),
  name: Type.Optional(Name),
  pathPrefix: Type.Optional(PathPrefix),
  dryRun: Type.Boolean({ default: false }),
}, Strict);
export const ImportReply = Type.Object({
  dryRun: Type.Boolean(),
  api: ApiView,
  operations: Type.Array(OperationView, { description: 'every operation after the import, in document order' }),
  diff: ImportDiffView,
});
/** A refused document: `errors` name JSON pointers into the document (not request paths). */
export const DocumentProblem = Type.Object({
  ...Problem.properties,
  errors: Type.Optional(Type.Array(Type.Object({ pointer: Type.String(), message: Type.String() }))),
});
export type ApiCreate = Static<typeof ApiCreate>;
