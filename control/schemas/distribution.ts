import { Type } from '@sinclair/typebox';
import { ACK_SCHEMA } from '../../contracts/distribution.js';
import { NullableTimestamp, Strict, Timestamp } from './common.js';
import { Convergence } from './fleet.js';

export const WasmPluginQuery = Type.Object({
  known: Type.Optional(Type.String({ maxLength: 128 })),
  waitSeconds: Type.Integer({ minimum: 0, maximum: 30, default: 0 }),
}, Strict);
export const WasmPluginReply = Type.Object({ version: Type.String(), wasmPlugin: Type.Unknown({ description: 'the rendered WasmPlugin object' }) });

/** The contract's own schema (contracts/distribution.ts): the route validates with it and casts the body. */
export const AckBody = ACK_SCHEMA;

/** The default target's configuration, every (sink, target) status, and the acks of every target. */
export const DistributionView = Type.Object({
  leader: Type.Boolean({ description: 'whether this replica is the one publishing to shared sinks (kubernetes, dir)' }),
  version: Type.Union([Type.String(), Type.Null()]),
  compiledAt: NullableTimestamp,
  configBytes: Type.Integer(),
  keys: Type.Integer(),
  targets: Type.Array(Type.Object({
    target: Type.String({ description: 'the sink' }), wasmPlugin: Type.String({ description: 'namespace/name of the object (whatever its kind)' }), kind: Type.Optional(Type.String({ description: 'its resource kind: WasmPlugin, TrafficExtension or EnvoyExtensionPolicy' })), version: Type.Union([Type.String(), Type.Null()]), distributedAt: NullableTimestamp,
    error: Type.Union([Type.String(), Type.Null()]),
  })),
  acks: Type.Array(Type.Object({
    target: Type.String({ description: 'the target whose credential sent it' }),
    proxy: Type.String(), version: Type.String(), status: Type.String(), message: Type.Optional(Type.String()),
    upstreamHealthy: Type.Optional(Type.Boolean()), receivedAt: Timestamp,
  })),
  convergence: Type.Array(Convergence, { description: 'per target: how many proxy nodes run its current version (docs/control.md "Fleet status")' }),
});
