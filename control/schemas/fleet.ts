import { Type } from '@sinclair/typebox';
import { MAX_ROWS_PER_NODE } from '../fleet/repository.js';
import { Id, Strict, Timestamp } from './common.js';

const NodeStateSchema = Type.Union([Type.Literal('current'), Type.Literal('behind'), Type.Literal('stale')]);

export const FleetQuery = Type.Object({
  target: Type.Optional(Id),
  state: Type.Optional(NodeStateSchema),
}, Strict);

export const FleetVm = Type.Object({
  reporter: Type.String({ description: 'the Envoy process (its reporter id)' }),
  vm: Type.String({ description: "the VM's id within its process ('' for a filter that predates it: one row per process)" }),
  configVersion: Type.String({ description: "the configuration version this VM runs ('' when none)" }),
  current: Type.Boolean({ description: "configVersion is the target's current version" }),
  lastSeen: Timestamp,
  stale: Type.Boolean({ description: 'not heard from within staleAfterSeconds: left out of the node\'s state, workers and counters' }),
  flushFailed: Type.Integer({ description: 'usage flushes failed since this VM started' }),
  feedFailed: Type.Integer({ description: 'key-feed calls failed since this VM started' }),
  dropped: Type.Integer({ description: 'usage entries dropped since this VM started' }),
});

export const FleetItem = Type.Object({
  node: Type.String({ description: "Envoy's node id ('' when the proxy's host has none)" }),
  target: Type.String({ description: 'the target whose reporter credential the proxy reports with' }),
  workers: Type.Integer({ description: "VMs of this node (across its Envoy processes) heard from within staleAfterSeconds; 0 when stale. A filter that predates `vm` counts once per process" }),
  configVersion: Type.String({ description: "the configuration version the node runs (a laggard VM's when its VMs disagree; '' when none)" }),
  current: Type.Boolean({ description: "configVersion is the target's current version" }),
  feedEpoch: Type.Union([Type.String(), Type.Null()]),
  feedRevision: Type.Union([Type.Integer(), Type.Null()]),
  feedLag: Type.Integer({ description: "the key feed's head minus feedRevision (0 when feedSync is resnapshot or none)" }),
  feedSync: Type.Union([Type.Literal('synced'), Type.Literal('behind'), Type.Literal('resnapshot'), Type.Literal('none')], {
    description: 'resnapshot: the node holds another revision history (another epoch) and will take a fresh snapshot; none: no key set reported',
  }),
  keys: Type.Union([Type.Integer(), Type.Null()]),
  lastSeen: Timestamp,
  state: NodeStateSchema,
  flushFailed: Type.Integer({ description: 'usage flushes failed, summed over the live VMs (since each VM started)' }),
  feedFailed: Type.Integer({ description: 'key-feed calls failed, summed likewise' }),
  dropped: Type.Integer({ description: 'usage entries dropped, summed likewise' }),
  vms: Type.Array(FleetVm, { description: `every VM of the node known (live and stale), in (reporter, vm) order; at most ${MAX_ROWS_PER_NODE}` }),
});

export const FleetView = Type.Object({
  items: Type.Array(FleetItem),
  staleAfterSeconds: Type.Integer(),
  forgetAfterSeconds: Type.Integer(),
});

/** GET /v1/distribution's `convergence`: per target, how many nodes run its current version. */
export const Convergence = Type.Object({
  target: Type.String(),
  version: Type.Union([Type.String(), Type.Null()], { description: "the target's current configuration version (what proxies report as configVersion)" }),
  proxies: Type.Integer({ description: 'nodes known (current + behind + stale)' }),
  current: Type.Integer(), behind: Type.Integer(), stale: Type.Integer(),
  oldestLaggard: Type.Union([Type.Object({
    node: Type.String(), configVersion: Type.String(), lastSeen: Timestamp,
    behindSeconds: Type.Integer({ description: 'seconds since the current version became current' }),
  }), Type.Null()]),
});
