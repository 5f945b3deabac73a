// The local mesh's channel: each target's current WasmPlugin held in memory (the WasmPlugin view of the target's
// configuration whatever its resource kind: the local sidecar reads WasmPlugins), long-polled by its proxies
// (GET /v1/distribution/wasmplugin?known=&waitSeconds=, with the target's reporter credential), which acknowledge
// what they applied (POST /v1/distribution/acks).
import type { DistributedPlugin, DistributionAck } from '../../../contracts/distribution.js';
import type { WasmPlugin } from '../wasmplugin.js';
import type { DistributionTarget, Rendered } from './target.js';

export interface Ack extends DistributionAck {
  receivedAt: number;
}

export interface Published extends DistributedPlugin { wasmPlugin: WasmPlugin }

/**
 * Acks kept per target: one per proxy name, the oldest forgotten past this, so a reporter credential cannot grow the
 * service's memory by inventing proxy names.
 */
export const MAX_ACKS_PER_TARGET = 1000;

export class LocalTarget implements DistributionTarget {
  readonly describe = 'local';
  readonly shared = false;
  private readonly current = new Map<string, Published>();
  private waiters = new Set<() => void>();
  private readonly acks = new Map<string, Map<string, Ack>>();
  private closing = false;

  async publish({ wasmPlugin }: Rendered, version: string, targetId: string): Promise<void> {
    this.current.set(targetId, { version, wasmPlugin });
    this.wakeAll();
  }

  async retract(_rendered: Rendered, targetId: string): Promise<void> {
    this.current.delete(targetId);
    this.acks.delete(targetId);
    this.wakeAll();
  }

  published(targetId: string): Published | undefined {
    return this.current.get(targetId);
  }

  /**
   * Resolves with the target's current WasmPlugin at once unless the caller already knows it; then waits up to
   * `waitMs` for a newer one and resolves undefined (304) if none came. `signal` ends the wait early (client gone,
   * shutdown).
   */
  async next(targetId: string, known: string | undefined, waitMs: number, signal?: AbortSignal): Promise<Published | undefined> {
    const now = (): Published | undefined => {
      const cur = this.current.get(targetId);
      return cur !== undefined && cur.version !== known ? cur : undefined;
    };
    if (now() !== undefined) return now();
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
    return now();
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

  recordAck(targetId: string, ack: Ack): void {
    let acks = this.acks.get(targetId);
    if (acks === undefined) {
      acks = new Map();
      this.acks.set(targetId, acks);
    }
    // Re-inserted so the map's order is oldest first.
    acks.delete(ack.proxy);
    acks.set(ack.proxy, ack);
    if (acks.size > MAX_ACKS_PER_TARGET) acks.delete(acks.keys().next().value!);
  }

  listAcks(targetId: string): Ack[] {
    return [...(this.acks.get(targetId)?.values() ?? [])].sort((a, b) => b.receivedAt - a.receivedAt);
  }

  /**
   * Why the target's proxies are not ready yet, or undefined when some proxy has freshly acknowledged a healthy apply
   * of the current version. Any such proxy will do, so an ack sent by someone holding the credential (say, a false
   * 'rejected') cannot make readiness fail while the real proxy keeps acknowledging.
   */
  notReadyReason(targetId: string, now: number, freshnessMs = 30_000): string | undefined {
    const cur = this.current.get(targetId);
    if (cur === undefined) return 'no configuration compiled yet';
    const acks = this.listAcks(targetId);
    const fresh = acks.filter((a) => now - a.receivedAt <= freshnessMs);
    if (fresh.some((a) => a.version === cur.version && a.status === 'applied' && a.upstreamHealthy === true)) return undefined;
    const newest = acks[0];
    if (newest === undefined) return `no proxy has acknowledged configuration ${cur.version}`;
    if (newest.version !== cur.version) return `newest ack (${newest.proxy}) is for ${newest.version}, current is ${cur.version}`;
    if (newest.status !== 'applied') return `proxy ${newest.proxy} rejected ${newest.version}${newest.message !== undefined ? `: ${newest.message}` : ''}`;
    if (newest.upstreamHealthy !== true) return `proxy ${newest.proxy} reports its upstream unhealthy`;
    return `newest ack is ${Math.round((now - newest.receivedAt) / 1000)} s old (max ${freshnessMs / 1000} s)`;
  }
}
