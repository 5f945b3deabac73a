// The local mesh's channel: the current WasmPlugin held in memory, long-polled by the sidecar
// (GET /v1/distribution/wasmplugin?known=&waitSeconds=), which acknowledges what it applied (POST /v1/distribution/acks).
import type { WasmPlugin } from '../wasmplugin.js';
import type { DistributionTarget } from './target.js';

export interface Ack {
  proxy: string;
  version: string;
  status: 'applied' | 'rejected';
  message?: string;
  upstreamHealthy?: boolean;
  receivedAt: number;
}

export interface Published { version: string; wasmPlugin: WasmPlugin }

export class LocalTarget implements DistributionTarget {
  readonly describe = 'local';
  private current: Published | undefined;
  private waiters = new Set<() => void>();
  private readonly acks = new Map<string, Ack>();
  private closing = false;

  async publish(plugin: WasmPlugin, version: string): Promise<void> {
    this.current = { version, wasmPlugin: plugin };
    this.wakeAll();
  }

  get published(): Published | undefined {
    return this.current;
  }

  /**
   * Resolves with the current WasmPlugin at once unless the caller already knows it; then waits up to `waitMs` for a
   * newer one and resolves undefined (304) if none came. `signal` ends the wait early (client gone, shutdown).
   */
  async next(known: string | undefined, waitMs: number, signal?: AbortSignal): Promise<Published | undefined> {
    if (this.current !== undefined && this.current.version !== known) return this.current;
    if (waitMs <= 0 || this.closing || signal?.aborted === true) return undefined;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
    return this.current !== undefined && this.current.version !== known ? this.current : undefined;
  }

  /** Releases every waiting poll (they answer 304 unless a new version arrived): used on shutdown. */
  wakeAll(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Shutdown: answer every waiting and future poll at once. */
  close(): void {
    this.closing = true;
    this.wakeAll();
  }

  recordAck(ack: Ack): void {
    this.acks.set(ack.proxy, ack);
  }

  listAcks(): Ack[] {
    return [...this.acks.values()].sort((a, b) => b.receivedAt - a.receivedAt);
  }

  /** Why the local mesh is not ready yet, or undefined when the newest ack is a fresh healthy apply of `version`. */
  notReadyReason(now: number, freshnessMs = 30_000): string | undefined {
    if (this.current === undefined) return 'no configuration compiled yet';
    const newest = this.listAcks()[0];
    if (newest === undefined) return `no proxy has acknowledged configuration ${this.current.version}`;
    if (newest.version !== this.current.version) return `newest ack (${newest.proxy}) is for ${newest.version}, current is ${this.current.version}`;
    if (newest.status !== 'applied') return `proxy ${newest.proxy} rejected ${newest.version}${newest.message !== undefined ? `: ${newest.message}` : ''}`;
    if (newest.upstreamHealthy !== true) return `proxy ${newest.proxy} reports its upstream unhealthy`;
    if (now - newest.receivedAt > freshnessMs) return `newest ack is ${Math.round((now - newest.receivedAt) / 1000)} s old (max ${freshnessMs / 1000} s)`;
    return undefined;
  }
}
