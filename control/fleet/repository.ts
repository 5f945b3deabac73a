// Where fleet status is kept (docs/control.md "Fleet status"): the latest ProxyStatus per (target, node, reporter,
// vm), in the store so every replica behind a load balancer answers from the same rows. Storage only; the rules are
// in state.ts.
import type { ProxyStatus } from '../../contracts/usage-report.js';

/**
 * At most this many rows per (target, node): the newest by lastSeen are kept. A node is one Envoy, or two during a
 * hot restart, each with a VM per worker thread plus the main thread's; 256 covers that on the largest machines, while
 * a proxy that sends a new vm (or reporter) id with every report cannot grow the table without bound.
 */
export const MAX_ROWS_PER_NODE = 256;

/** One VM's latest status (vm '': a filter that predates `vm`, one row per Envoy process). Times in unix ms. */
export interface ProxyRow {
  targetId: string; node: string; reporter: string; vm: string;
  configVersion: string;
  /** When this row's configVersion last changed (first seen on it). */
  versionSince: number;
  feedEpoch: string | null; feedRevision: number | null; keys: number | null;
  flushFailed: number; feedFailed: number; dropped: number;
  lastSeen: number;
}

export interface FleetStatusRepository {
  /**
   * Upserts the row of (target, node, reporter, status.vm ?? ''); a duplicate batch re-records the same status
   * (harmless). A new row beyond MAX_ROWS_PER_NODE of its node removes the node's oldest, and one beyond
   * `maxRowsPerTarget` of its target the target's oldest (a flood of made-up node ids stays bounded).
   */
  record(targetId: string, reporter: string, status: ProxyStatus, now: number, maxRowsPerTarget: number): Promise<void>;
  /** Every row (one per VM seen within the forget interval: a fleet's worth, not more), in key order. */
  all(): Promise<ProxyRow[]>;
  /** Deletes rows last seen before `before`; returns how many. */
  forgetBefore(before: number): Promise<number>;
}

/** A row's columns from a status (absent fields as null / ''). */
export function rowValues(status: ProxyStatus): Pick<ProxyRow, 'vm' | 'configVersion' | 'feedEpoch' | 'feedRevision' | 'keys' | 'flushFailed' | 'feedFailed' | 'dropped'> {
  return {
    vm: status.vm ?? '', configVersion: status.configVersion ?? '',
    feedEpoch: status.feedEpoch ?? null, feedRevision: status.feedRevision ?? null, keys: status.keys ?? null,
    flushFailed: status.flushFailed, feedFailed: status.feedFailed, dropped: status.dropped,
  };
}

/** A fleet_proxies row as both drivers return it (PostgreSQL BIGINTs arrive as strings). */
export interface ProxyTableRow {
  target_id: string; node: string; reporter: string; vm: string; config_version: string; version_since: number | string;
  feed_epoch: string | null; feed_revision: number | string | null; keys: number | string | null;
  flush_failed: number | string; feed_failed: number | string; dropped: number | string; last_seen: number | string;
}

export function proxyFromRow(r: ProxyTableRow): ProxyRow {
  return {
    targetId: r.target_id, node: r.node, reporter: r.reporter, vm: r.vm, configVersion: r.config_version, versionSince: Number(r.version_since),
    feedEpoch: r.feed_epoch, feedRevision: r.feed_revision === null ? null : Number(r.feed_revision), keys: r.keys === null ? null : Number(r.keys),
    flushFailed: Number(r.flush_failed), feedFailed: Number(r.feed_failed), dropped: Number(r.dropped), lastSeen: Number(r.last_seen),
  };
}
