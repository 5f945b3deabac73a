// Which usage reports are heartbeats (docs/usage-report.md "Proxy status"). Pure.
import type { UsageReport } from '../../contracts/usage-report.js';

/**
 * A report with no entries, nothing dropped and no sync request changes no usage: its proxy status is all it
 * brings. The control service records that and answers without storing the batch (a batch-log row per VM and flush
 * interval otherwise), with an empty fleet, which is what the stored path would answer for no keys.
 */
export function isHeartbeat(report: Pick<UsageReport, 'entries' | 'dropped' | 'sync' | 'proxy'>): boolean {
  return report.proxy !== undefined && report.entries.length === 0 && report.dropped === 0 && report.sync !== true;
}
