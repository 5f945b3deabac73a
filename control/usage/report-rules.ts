// What a usage report may claim, checked before anything is stored (docs/usage-report.md, "Validation"). Pure.
// Reports that no correct filter can send are refused whole (422: the filter drops them and counts them as
// dropped); entries that a correct filter can send but that fall outside the reporter's scope or the accepted time
// range (a key deleted meanwhile, a proxy whose clock is off) are refused one by one, and the rest is stored.
import { MAX_OPERATION_COST } from '../../contracts/filter-config.js';
import { STATUS_CLASSES, type UsageEntry, type UsageReport } from '../store/types.js';

/** Entries for minutes older than this are refused: a batch retried for a week has lost its meaning. */
export const MAX_REPORT_AGE_S = 7 * 86_400;
/** Entries this far ahead of the service's clock are accepted (proxy clocks drift); further ahead are refused. */
export const CLOCK_SKEW_S = 300;
/** A report claiming more dropped requests than this is refused (2^32 − 1 would swamp the dropped metric). */
export const MAX_DROPPED_PER_REPORT = 1_000_000_000;
/** An entry's `units` is a 32-bit counter in the filter (schemas/usage-report.v1.schema.json bounds it the same). */
export const MAX_ENTRY_UNITS = 4_294_967_295;

/** Why no correct filter could have sent this report, or undefined. */
export function impossibleReport(report: UsageReport): string | undefined {
  if (report.dropped > MAX_DROPPED_PER_REPORT) return `dropped: more than ${MAX_DROPPED_PER_REPORT}`;
  const seen = new Set<string>();
  for (let i = 0; i < report.entries.length; i++) {
    const e = report.entries[i]!;
    // An API with operations reports one entry per operation: operationId is part of what makes an entry.
    const id = `${e.minute}\u0000${e.keyId}\u0000${e.apiId}\u0000${e.outcome}\u0000${e.operationId ?? ''}`;
    if (seen.has(id)) return `entries[${i}]: the same minute, keyId, apiId, operationId and outcome appear twice`;
    seen.add(id);
    const units = unitsProblem(e);
    if (units !== undefined) return `entries[${i}].units: ${units}`;
    const wouldReject = wouldRejectProblem(e);
    if (wouldReject !== undefined) return `entries[${i}].wouldReject: ${wouldReject}`;
    if (e.operationId !== undefined && e.apiId === '') return `entries[${i}].operationId: an operation belongs to an API (apiId is empty)`;
    if (e.status === undefined) continue;
    if (e.outcome !== 'allowed') return `entries[${i}].status: only allowed requests reach the upstream`;
    let sum = 0;
    for (const c of STATUS_CLASSES) sum += e.status[c] ?? 0;
    if (sum > e.count) return `entries[${i}].status: the classes add up to ${sum}, more than count ${e.count}`;
  }
  return undefined;
}

/**
 * Why an entry's `units` is impossible, or undefined. The schema checks the type and range first (400); this repeats
 * the range so the rule holds whatever validated the body, and adds what the schema cannot say: only allowed requests
 * spend units, and `count` requests cannot have spent more than `count` times the largest operation cost.
 */
function unitsProblem(e: UsageEntry): string | undefined {
  if (e.units === undefined) return undefined;
  if (e.outcome !== 'allowed') return 'only allowed requests spend units';
  if (!Number.isInteger(e.units) || e.units < 0 || e.units > MAX_ENTRY_UNITS) return `must be an integer from 0 to ${MAX_ENTRY_UNITS}`;
  if (e.units > e.count * MAX_OPERATION_COST) return `${e.units} units for ${e.count} requests is more than ${MAX_OPERATION_COST} (the largest cost) each`;
  return undefined;
}

/** Why an entry's `wouldReject` is impossible, or undefined: only allowed requests pass a shadow limit, at most all of them. */
function wouldRejectProblem(e: UsageEntry): string | undefined {
  if (e.wouldReject === undefined) return undefined;
  if (e.outcome !== 'allowed') return 'only allowed requests are counted as would-be rejections (a rejected request was rejected)';
  if (!Number.isInteger(e.wouldReject) || e.wouldReject < 0) return 'must be a non-negative integer';
  if (e.wouldReject > e.count) return `${e.wouldReject} would-be rejections of ${e.count} requests`;
  return undefined;
}

/** Whether an entry's minute is inside the accepted range at `now` (unix s). */
export function minuteAccepted(e: UsageEntry, now: number): boolean {
  return e.minute >= now - MAX_REPORT_AGE_S && e.minute <= now + CLOCK_SKEW_S;
}
