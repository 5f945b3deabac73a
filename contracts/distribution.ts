// Public format: the local distribution contract between the control service and a proxy that follows it the way
// Envoy follows ECDS (docs/control.md, "Local distribution contract"): long-poll for the target's WasmPlugin, then
// acknowledge each version applied or rejected.
export const WASMPLUGIN_POLL_PATH = '/v1/distribution/wasmplugin';
export const ACK_PATH = '/v1/distribution/acks';

/** 200 reply of a poll (304, no body, when the hold ends with `known` still current). */
export interface DistributedPlugin { version: string; wasmPlugin: unknown }

export const ACK_STATUSES = ['applied', 'rejected'] as const;
export type AckStatus = (typeof ACK_STATUSES)[number];

export interface DistributionAck {
  /** Names the proxy; one ack per proxy is kept. */
  proxy: string;
  version: string;
  status: AckStatus;
  message?: string;
  upstreamHealthy?: boolean;
}

/** The ack body's JSON Schema (the control service validates with it; unknown fields are refused). */
export const ACK_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['proxy', 'version', 'status'],
  properties: {
    proxy: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:@/~-]+$' },
    version: { type: 'string', minLength: 1, maxLength: 128 },
    status: { enum: [...ACK_STATUSES] },
    message: { type: 'string', maxLength: 2048 },
    upstreamHealthy: { type: 'boolean' },
  },
} as const;
