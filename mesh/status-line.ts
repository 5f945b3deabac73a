// The mesh's one live status line. On a terminal it rewrites itself in place; elsewhere (CI logs, files) it prints at
// most one line per interval so logs are not flooded. Log lines printed through the same writer clear the status
// line first and redraw it after, so the two never interleave on a terminal.
import type { Writable } from 'node:stream';

export interface MeshStatus {
  allowed: number;
  denied: number;
  /** Configuration version serving in the sidecar. */
  version?: string;
  /** Epoch ms of the last successful usage flush seen. */
  lastFlushAt?: number;
  controlUp: boolean;
  controlRestarts: number;
  /** Filter VM traps so far (the fail strategy decided what traffic saw); shown only when there were any. */
  vmFailures?: number;
  /** Keys the sidecar holds from the key feed and their revision; absent until the first snapshot lands. */
  feedKeys?: number;
  feedRevision?: number;
}

export function ago(thenMs: number | undefined, nowMs: number): string {
  if (thenMs === undefined) return 'never';
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s ago`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m ago`;
}

export function formatStatus(s: MeshStatus, nowMs: number): string {
  const version = s.version === undefined ? 'none' : s.version.slice(0, 12);
  const control = s.controlUp ? 'up' : 'DOWN';
  const restarts = s.controlRestarts > 0 ? ` (restarted ${s.controlRestarts}×)` : '';
  const failures = s.vmFailures ? ` · VM failures ${s.vmFailures}` : '';
  const keys = s.feedRevision === undefined ? 'keys none yet' : `keys ${s.feedKeys ?? 0} (rev ${s.feedRevision})`;
  return `allowed ${s.allowed} · denied ${s.denied} · config ${version} · ${keys} · last flush ${ago(s.lastFlushAt, nowMs)} · control ${control}${restarts}${failures}`;
}

export interface StatusWriter {
  update(line: string): void;
  log(text: string): void;
  /** Leaves the terminal on a fresh line. */
  stop(): void;
}

export function statusWriter(out: Writable & { isTTY?: boolean; columns?: number }, opts: { intervalMs?: number; now?: () => number } = {}): StatusWriter {
  const tty = out.isTTY === true;
  const interval = opts.intervalMs ?? 30_000;
  const now = opts.now ?? Date.now;
  let current = '';
  let lastPrinted = -Infinity;
  const fit = (line: string) => (out.columns && line.length >= out.columns ? `${line.slice(0, out.columns - 2)}…` : line);
  const draw = () => { if (current !== '') out.write(`\r\x1b[2K${fit(current)}`); };
  const clear = () => { if (current !== '') out.write('\r\x1b[2K'); };
  return {
    update(line) {
      if (tty) {
        if (line === current) return;
        current = line;
        draw();
        return;
      }
      if (now() - lastPrinted < interval) return;
      lastPrinted = now();
      out.write(`status: ${line}\n`);
    },
    log(text) {
      if (tty) clear();
      out.write(text.endsWith('\n') ? text : `${text}\n`);
      if (tty) draw();
    },
    stop() {
      if (tty && current !== '') out.write('\n');
      current = '';
    },
  };
}
