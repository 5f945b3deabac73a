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
// The shape of a Gateway API policy reference; which group/kind each resource kind may target (and whether it takes
// sectionName) is checked by the route (422), since it depends on the target's kind.
const TargetRef = Type.Object({
  group: Type.String({ maxLength: 253, pattern: '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', description: '"" for core (Service)' }),
  kind: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$' }),
  name: ResourceName,
  sectionName: Type.Optional(Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', description: 'a listener or route rule (EnvoyExtensionPolicy only)' })),
}, Strict);
const TargetRefs = Type.Array(TargetRef, { minItems: 1, maxItems: 16, description: 'what the object attaches to (kinds allowed per resource kind: docs/deploy.md); at most one of selector and targetRefs' });
// Spelled out (not mapped from RESOURCE_KINDS) so the literal types survive; the contract test checks they agree.
const ResourceKindField = Type.Union([Type.Literal('WasmPlugin'), Type.Literal('TrafficExtension'), Type.Literal('EnvoyExtensionPolicy')], {
  description: 'what the configuration ships as: WasmPlugin (default), TrafficExtension (Istio ≥ 1.30, sidecars, gateways and ambient waypoints) or EnvoyExtensionPolicy (Envoy Gateway; targetRefs only)',
});
const ImagePullSecret = Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', description: 'a Secret in the target\'s namespace with registry credentials for the filter image; null: none' });
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

export { ResourceKindField };

export const TargetCreate = Type.Object({
  name: ResourceName,
  namespace: Namespace,
  selector: Type.Optional(Selector),
  targetRefs: Type.Optional(TargetRefs),
  kind: Type.Optional(ResourceKindField),
  imagePullSecret: Type.Optional(Type.Union([ImagePullSecret, Type.Null()])),
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
  targetRefs: Type.Optional(Type.Union([TargetRefs, Type.Null()])),
  kind: Type.Optional(ResourceKindField),
  imagePullSecret: Type.Optional(Type.Union([ImagePullSecret, Type.Null()])),
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
  targetRefs: Type.Union([Type.Array(Type.Object({ group: Type.String(), kind: Type.String(), name: Type.String(), sectionName: Type.Optional(Type.String()) })), Type.Null()]),
  kind: ResourceKindField,
  imagePullSecret: Type.Union([Type.String(), Type.Null()]),
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
