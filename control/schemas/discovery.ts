// GET /v1/discovery and GET /v1/discovery/plan (docs/discovery.md).
import { Type } from '@sinclair/typebox';
import { NullableTimestamp, Timestamp } from './common.js';


export const DiscoveryRowView = Type.Object({
  namespace: Type.String(), service: Type.String(), uid: Type.String({ description: "the Service's metadata.uid (what records are keyed by)" }),
  action: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('disown'), Type.Literal('retire'), Type.Literal('forget'), Type.Literal('skip')], {
    description: 'create/update the API; disown: a person edited or deleted it, discovery stops managing it; retire: the Service '
      + 'is gone or not exposed (deleted, or kept marked retired while a plan lists it); forget: drop the record only; skip: nothing to do, or an error',
  }),
  apiId: Type.Union([Type.String(), Type.Null()]),
  apiName: Type.Union([Type.String(), Type.Null()]),
  detail: Type.String(),
  error: Type.Boolean({ description: 'the Service could not be handled (bad annotation, document unavailable or refused, name taken)' }),
});

export const DiscoveryPlanReply = Type.Object({
  source: Type.Union([Type.Literal('watch'), Type.Literal('list')], { description: "watch: the running informer's cache; list: one list of each namespace" }),
  namespaces: Type.Array(Type.String()),
  items: Type.Array(DiscoveryRowView),
});

export const DiscoveryStatusView = Type.Object({
  enabled: Type.Boolean(),
  leader: Type.Boolean({ description: 'this replica applies (one replica does, on its own advisory lock)' }),
  watching: Type.Boolean(),
  synced: Type.Boolean({ description: 'every namespace listed at least once' }),
  adopt: Type.Boolean({ description: 'TOLLGATE_DISCOVERY_OVERWRITE: hand-edited APIs are overwritten' }),
  lastSyncAt: NullableTimestamp,
  lastSyncError: Type.Union([Type.String(), Type.Null()]),
  syncs: Type.Integer(),
  namespaces: Type.Array(Type.Object({
    namespace: Type.String(), synced: Type.Boolean(), resourceVersion: Type.String(), lists: Type.Integer(), restarts: Type.Integer(),
    lastError: Type.Union([Type.String(), Type.Null()]), lastErrorAt: NullableTimestamp,
  })),
  services: Type.Array(Type.Intersect([DiscoveryRowView, Type.Object({ at: Timestamp })])),
});
