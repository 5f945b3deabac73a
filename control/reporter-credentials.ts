// Reporter credentials: each target has its own, shipped in its WasmPlugin, so a proxy (or anyone who can read that
// WasmPlugin) can report usage and fetch configuration only for what that target was given. After a rotation the
// previous credential stays valid until its grace period ends, so batches in flight are not lost.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ReporterScope, TargetWithCredentials } from './store/types.js';

/** How long a rotated-out credential keeps working by default: distribution plus the filter's retry back-off. */
export const DEFAULT_REPORT_TOKEN_GRACE_S = 900;

const sha = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant time per comparison (digests of equal length), whatever the tokens' lengths. */
function same(presented: Buffer, token: string): boolean {
  return timingSafeEqual(presented, sha(token));
}

/** The target whose current, or still valid previous, credential is `token` (`now` in unix seconds). */
export function targetForToken(targets: readonly TargetWithCredentials[], token: string, now: number): TargetWithCredentials | undefined {
  const presented = sha(token);
  let found: TargetWithCredentials | undefined;
  for (const t of targets) {
    // Every credential is compared, so the time taken does not say which target (or whether any) matched.
    const current = same(presented, t.reportToken);
    const previous = t.previousReportToken !== null && t.previousValidUntil !== null && now < t.previousValidUntil &&
      same(presented, t.previousReportToken);
    if ((current || previous) && found === undefined) found = t;
  }
  return found;
}

export function scopeOf(target: TargetWithCredentials): ReporterScope {
  return { targetId: target.id, apiIds: target.apiIds.length === 0 ? null : new Set(target.apiIds) };
}
