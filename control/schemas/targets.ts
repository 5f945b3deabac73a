import { Type } from '@sinclair/typebox';
import { Id, Strict, Timestamp } from './common.js';

// Kubernetes names: a WasmPlugin's metadata.name (DNS-1123 subdomain) and a namespace (DNS-1123 label).
const ResourceName = Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' });
const Namespace = Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' });
const Selector = Type.Record(
  Type.String({ pattern: '^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$' }),
  Type.String({ maxLength: 63, pattern: '^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$' }),
  { description: 'workload labels (matchLabels); at most one of selector and targetRefs' },
);
const TargetRef = Type.Union([
  Type.Object({ group: Type.Literal('gateway.networking.k8s.io'), kind: Type.Union([Type.Literal('Gateway'), Type.Literal('GatewayClass')]), name: ResourceName }, Strict),
  Type.Object({ group: Type.Literal(''), kind: Type.Literal('Service'), name: ResourceName }, Strict),
  Type.Object({ group: Type.Literal('networking.istio.io'), kind: Type.Literal('ServiceEntry'), name: ResourceName }, Strict),
]);
const PathForm = Type.Union([Type.Literal('asterisk'), Type.Literal('authority')]);

const policy = {
  apiIds: Type.Array(Id, { maxItems: 1000, description: 'the APIs this target enforces; empty = every API' }),
  denyUnmatched: Type.Boolean({ description: 'requests matching no API get 403 instead of passing' }),
  passPathForms: Type.Array(PathForm, { maxItems: 2, description: 'non-origin-form request targets let through without a key check (OPTIONS *, CONNECT); others get 400' }),
  rateLimitHeaderStyle: Type.Union([Type.Literal('legacy'), Type.Literal('ietf'), Type.Literal('both')], {
    description: 'rate-limit headers the filter sends: legacy RateLimit-Limit/-Remaining/-Reset (default), the IETF draft\'s RateLimit-Policy + RateLimit, or both',
  }),
};
/** A lowercase HTTP field name (what Envoy keeps in HTTP/2 and 3); not a pseudo-header. */
const ShadowHeader = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9-]*$', description: 'request header naming the shadow limit that would have rejected; null: none' });

export const TargetCreate = Type.Object({
  name: ResourceName,
  namespace: Namespace,
  selector: Type.Optional(Selector),
  targetRefs: Type.Optional(Type.Array(TargetRef, { minItems: 1, maxItems: 16 })),
  apiIds: Type.Optional(policy.apiIds),
  denyUnmatched: Type.Optional(policy.denyUnmatched),
  passPathForms: Type.Optional(policy.passPathForms),
  rateLimitHeaderStyle: Type.Optional(policy.rateLimitHeaderStyle),
  shadowHeader: Type.Optional(Type.Union([ShadowHeader, Type.Null()])),
}, Strict);

export const TargetPatch = Type.Object({
  name: Type.Optional(ResourceName),
  namespace: Type.Optional(Namespace),
  selector: Type.Optional(Type.Union([Selector, Type.Null()])),
  targetRefs: Type.Optional(Type.Union([Type.Array(TargetRef, { minItems: 1, maxItems: 16 }), Type.Null()])),
  apiIds: Type.Optional(policy.apiIds),
  denyUnmatched: Type.Optional(policy.denyUnmatched),
  passPathForms: Type.Optional(policy.passPathForms),
  rateLimitHeaderStyle: Type.Optional(policy.rateLimitHeaderStyle),
  shadowHeader: Type.Optional(Type.Union([ShadowHeader, Type.Null()])),
}, Strict);

export const TargetView = Type.Object({
  id: Id,
  name: Type.String(),
  namespace: Type.String(),
  selector: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()]),
  targetRefs: Type.Union([Type.Array(Type.Object({ group: Type.String(), kind: Type.String(), name: Type.String() })), Type.Null()]),
  ...policy,
  shadowHeader: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** Creation and rotation: the only replies that carry the reporter credential. */
export const TargetWithToken = Type.Object({
  ...TargetView.properties,
  reportToken: Type.String({ description: 'the reporter credential, shown here once (it also ships inside this target\'s WasmPlugin)' }),
  previousValidUntil: Type.Union([Timestamp, Type.Null()]),
});

export const RotateReportToken = Type.Object({
  graceSeconds: Type.Integer({ minimum: 0, maximum: 7 * 86_400, default: 900, description: 'how long the current credential keeps working' }),
}, Strict);
