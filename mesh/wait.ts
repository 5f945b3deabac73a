// Small waiting helpers for start-up: a free loopback port and "until this URL answers".
import { createServer } from 'node:net';

/** A port free right now on 127.0.0.1 (the OS picks it; there is a small window before the caller binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until `accept(status)` or the deadline; returns the last status (0 = no answer). */
export async function waitForHttp(url: string, opts: { timeoutMs: number; accept?: (status: number) => boolean; intervalMs?: number; signal?: AbortSignal }): Promise<number> {
  const accept = opts.accept ?? ((s: number) => s === 200);
  const deadline = Date.now() + opts.timeoutMs;
  let last = 0;
  while (Date.now() < deadline && opts.signal?.aborted !== true) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      last = res.status;
      if (accept(last)) return last;
    } catch {
      last = 0;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
  return last;
}

/** True when something answers HTTP at `url` within `timeoutMs` (any status: reachable is what counts). */
export async function httpReachable(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
