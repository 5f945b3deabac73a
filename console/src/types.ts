// The REST shapes the console reads (docs/control.md; the generated OpenAPI is the reference).
export interface Page<T> { items: T[]; nextCursor: string | null }

export interface ApiView { id: string; name: string; pathPrefix: string; hosts: string[]; methods: string[]; operationCount: number; createdAt: string }
export interface Limit { requests: number; per: string; id?: string; apiId?: string; operationId?: string; shadow?: boolean }
export interface PlanView { id: string; name: string; limits: Limit[]; apiIds: string[]; shadow: boolean; createdAt: string }
export interface ConsumerView { id: string; name: string; createdAt: string }
export type KeyStatus = 'active' | 'revoked' | 'expired' | 'rotating';
export interface KeyView {
  id: string; consumerId: string; planId: string; prefix: string; status: KeyStatus;
  createdAt: string; expiresAt: string | null; revokedAt: string | null; replacedBy: string | null;
}
export interface KeyCreated extends KeyView { key: string }

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];
export type StatusCounts = Record<StatusClass, number>;
export interface Counts { allowed: number; rejectedQuota: number; rejectedAuth: number; rejectedForbidden: number; units: number; wouldReject: number }
export interface UsagePoint extends Counts { start: string; upstreamStatus: StatusCounts }
export interface UsageView { totals: Counts; upstreamStatus: StatusCounts; series: UsagePoint[] }
/** GET /v1/usage/top (newer control services): groups largest first over whole UTC hours [from, to). */
export interface UsageTopItem {
  id: string; requests: number; allowed: number; rejectedQuota: number; rejectedAuth: number; rejectedForbidden: number; units: number; wouldReject: number;
}
export interface UsageTopView { by: string; from: string; to: string; items: UsageTopItem[] }

/** GET /v1/fleet (newer control services; absent fields tolerated). */
export interface FleetProxy {
  node: string; target?: string; workers?: number; configVersion?: string | null; current?: boolean;
  feedEpoch?: string | null; feedRevision?: number | null; feedLag?: number | null; keys?: number | null;
  lastSeen?: string | null; state?: 'current' | 'behind' | 'stale' | string; flushFailed?: number; feedFailed?: number; dropped?: number;
}
export interface FleetView { items: FleetProxy[]; staleAfterSeconds?: number; forgetAfterSeconds?: number }
export interface Convergence { target: string; version: string | null; proxies: number; current: number; behind: number; stale: number; oldestLaggard: string | null }
export interface DistributionView {
  version: string | null; compiledAt: string | null; configBytes: number; keys: number;
  targets: { target: string; wasmPlugin: string; version: string | null; distributedAt: string | null; error: string | null }[];
  acks: { target: string; proxy: string; version: string; status: string; message?: string; upstreamHealthy?: boolean; receivedAt: string }[];
  convergence?: Convergence[];
}
