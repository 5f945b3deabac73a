// Public format: the usage report (version 1) the filter sends and the reply (version 2) it gets. The contract is
// docs/usage-report.md and schemas/usage-report.v1.schema.json, schemas/usage-reply.v2.schema.json; the filter's
// writer and reply parser (assembly/usage/) mirror it, and tests/contracts/agreement.test.ts proves the two agree.
import { canonicalJson } from './canonical-json.js';
import type { FleetPer } from './filter-config.js';
import type { CreditSpend } from './key-feed.js';

export const USAGE_REPORT_VERSION = 1;
export const USAGE_REPLY_VERSION = 2;
export const USAGE_REPORT_SCHEMA = 'schemas/usage-report.v1.schema.json';
export const USAGE_REPLY_SCHEMA = 'schemas/usage-reply.v2.schema.json';
/** Where the filter posts reports on the control service. */
export const USAGE_REPORT_PATH = '/v1/usage/reports';

/** What became of a request: the one vocabulary, from the filter's counters to the store. */
export const OUTCOMES = ['allowed', 'rejected_quota', 'rejected_auth', 'rejected_forbidden'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * The same outcomes at the two edges whose conventions differ: REST fields are camelCase like the rest of the REST
 * API, and the filter's Envoy stats (`wasmcustom.<name>`) carry the product prefix. Mapped here and nowhere else.
 */
export const OUTCOME_EDGES = {
  allowed: { rest: 'allowed', filterMetric: 'tollgate_allowed' },
  rejected_quota: { rest: 'rejectedQuota', filterMetric: 'tollgate_denied_quota' },
  rejected_auth: { rest: 'rejectedAuth', filterMetric: 'tollgate_denied_auth' },
  rejected_forbidden: { rest: 'rejectedForbidden', filterMetric: 'tollgate_denied_forbidden' },
} as const satisfies Record<Outcome, { rest: string; filterMetric: string }>;
export type OutcomeRestField = (typeof OUTCOME_EDGES)[Outcome]['rest'];

/** Upstream response status classes of allowed requests. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];
export type StatusCounts = Record<StatusClass, number>;

export interface UsageEntry {
  minute: number;
  keyId: string;
  apiId: string;
  outcome: Outcome;
  count: number;
  /**
   * Allowed entries only: the units those `count` requests spent (the sum of their operations' `cost`,
   * docs/filter-config.md "Operations") when that differs from `count`; absent means one unit per request. Quota and
   * the fleet's windows count units. Additive in version 1: the filter writes it only under a configuration with
   * costs, which only a control service that knows the field compiles.
   */
  units?: number;
  /**
   * The operation the requests matched (APIs with operations only): the fleet windows of operation-scoped limits are
   * counted from these entries. Additive in version 1, written only under a configuration with operations.
   */
  operationId?: string;
  /** Allowed entries only: how many of the `count` requests a shadow limit would have rejected (absent: none). */
  wouldReject?: number;
  status?: Partial<StatusCounts>;
}

/**
 * The reporting worker's state, for fleet status (docs/usage-report.md "Proxy status"). Additive in version 1: every
 * report of a filter that knows it carries it, even one with no entries (a heartbeat).
 */
export interface ProxyStatus {
  /**
   * Envoy's node id: the `xds.node.id` property (Envoy 1.33 and later), else the older `node.id`; a sidecar's is
   * `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`. "" when the host has neither.
   */
  node: string;
  /**
   * This VM's id, unique among the VMs of its Envoy process (the reporter): 8 lowercase hex chars the filter draws from
   * its randomness once per VM, the same in every report of that VM. Absent from filters that predate it (the
   * control service then keeps one row per process, vm ''). Additive in version 1.
   */
  vm?: string;
  /** `configVersion` of the filter configuration this worker runs (absent: the configuration has none). */
  configVersion?: string;
  /** The key feed this worker holds: its epoch and revision (absent: no snapshot yet, or no feed), and its key count. */
  feedEpoch?: string; feedRevision?: number; keys?: number;
  /** Counters since the VM started, as its metrics count them: usage flushes failed, key-feed calls failed, entries dropped. */
  flushFailed: number; feedFailed: number; dropped: number;
}

/** `sync`: also answer with every subscription's fleet windows in the reporter's scope (a proxy that just started). */
export interface UsageReport {
  version: typeof USAGE_REPORT_VERSION; batchId: string; reporter: string; entries: UsageEntry[]; dropped: number; sync?: boolean;
  proxy?: ProxyStatus;
}

/** `subscription` is `<planId>/<consumerId>`: quota belongs to the subscription, across all of its keys. */
/**
 * `scope`: absent → the whole subscription (every limit without apiId); `<apiId>` → requests to that API;
 * `<apiId>/<operationId>` → requests to that operation. The control service keeps scoped windows only for scopes that
 * a limit of the subscription's plan (or an operation default under it) names.
 */
export interface FleetWindow { subscription: string; per: FleetPer; windowStart: number; others: number; scope?: string }

export interface UsageReply {
  version: typeof USAGE_REPLY_VERSION; batchId: string; duplicate: boolean; fleet: FleetWindow[]; refused?: number;
  /** The fleet's spend against the credit balances of the batch's subscriptions (all of the scope's on `sync`). Additive. */
  creditSpend?: CreditSpend[];
}

export function printUsageReport(report: UsageReport): string {
  return canonicalJson(report);
}
