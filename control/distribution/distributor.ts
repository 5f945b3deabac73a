// Recompiles the store after changes (debounced) and hands the rendered WasmPlugin to every target, remembering
// what went where and when. A failed compile or publish keeps the last good state and is reported, never thrown.
import type { FastifyBaseLogger } from 'fastify';
import { compile, type CompiledConfig } from '../compiler/compile.js';
import type { Store } from '../store/repository.js';
import { renderWasmPlugin, type WasmPlugin, type WasmPluginOptions } from './wasmplugin.js';
import type { DistributionTarget } from './targets/target.js';

export interface TargetStatus { target: string; version: string | null; distributedAt: number | null; error: string | null }

export interface DistributorOptions {
  store: Store;
  targets: DistributionTarget[];
  plugin: WasmPluginOptions;
  usage: { cluster: string; authority: string; intervalMs: number; timeoutMs: number; reportToken: string };
  debounceMs: number;
  /** After a failed publish, try again this much later (default 5 s). */
  retryMs?: number;
  log: FastifyBaseLogger;
  onDistributed?: (version: string, target: string, ok: boolean) => void;
}

/** Re-check at least this often even when the next expiry is far away (setTimeout's limit is ~24.8 days). */
const MAX_PRUNE_DELAY_MS = 6 * 3600 * 1000;

export interface CurrentConfig { compiled: CompiledConfig; wasmPlugin: WasmPlugin; compiledAt: number }

export class Distributor {
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private pruneTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private latest: CurrentConfig | undefined;
  private readonly statuses = new Map<string, TargetStatus>();
  private closed = false;

  constructor(private readonly o: DistributorOptions) {
    for (const t of o.targets) this.statuses.set(t.describe, { target: t.describe, version: null, distributedAt: null, error: null });
  }

  get current(): CurrentConfig | undefined {
    return this.latest;
  }

  targetStatuses(): TargetStatus[] {
    return [...this.statuses.values()];
  }

  /**
   * A change happened: redistribute once things have been quiet for debounceMs, but no later than maxWait after the
   * first pending change, so a steady stream of writes cannot hold back distribution forever.
   */
  schedule(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.timer === undefined) this.firstPendingAt = now;
    else clearTimeout(this.timer);
    const maxWait = Math.max(1000, this.o.debounceMs);
    const delay = Math.max(0, Math.min(this.o.debounceMs, this.firstPendingAt + maxWait - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.distributeNow();
    }, delay);
  }

  /** Compile and publish now (serialised with any run in progress); resolves when every target has answered. */
  distributeNow(): Promise<void> {
    this.running = this.running.then(() => this.runOnce());
    return this.running;
  }

  /** Waits for a pending debounced run, if any, to finish: tests and shutdown use it. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      await this.distributeNow();
    }
    await this.running;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.pruneTimer !== undefined) clearTimeout(this.pruneTimer);
  }

  /**
   * Recompile just after the earliest key expiry, so expired keys and ended rotation grace periods leave the shipped
   * configuration without waiting for the next change (the filter already rejects them by expiresAt meanwhile).
   */
  private scheduleExpiryPrune(keys: readonly (readonly unknown[])[]): void {
    if (this.pruneTimer !== undefined) clearTimeout(this.pruneTimer);
    this.pruneTimer = undefined;
    const nowS = Date.now() / 1000;
    let earliest = Infinity;
    for (const k of keys) {
      const expiresAt = k[4];
      if (typeof expiresAt === 'number' && expiresAt > 0 && expiresAt < earliest) earliest = expiresAt;
    }
    if (this.closed || earliest === Infinity) return;
    const delayMs = Math.min(MAX_PRUNE_DELAY_MS, Math.max(0, (earliest - nowS) * 1000) + 1000);
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = undefined;
      if (!this.closed) void this.distributeNow();
    }, delayMs);
    this.pruneTimer.unref();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed) void this.distributeNow();
    }, this.o.retryMs ?? 5000);
    this.retryTimer.unref();
  }

  private async runOnce(): Promise<void> {
    let next: CurrentConfig;
    try {
      const compiled = compile(await this.o.store.snapshot(), { now: Math.floor(Date.now() / 1000), usage: this.o.usage });
      next = { compiled, wasmPlugin: renderWasmPlugin(compiled.config, compiled.version, this.o.plugin), compiledAt: Date.now() };
    } catch (err) {
      this.o.log.error({ err }, 'compiling the filter configuration failed; keeping the last good one');
      return;
    }
    const changed = this.latest?.compiled.version !== next.compiled.version;
    this.latest = next;
    this.scheduleExpiryPrune(next.compiled.config.keys);
    await Promise.all(this.o.targets.map(async (t) => {
      const status = this.statuses.get(t.describe)!;
      if (!changed && status.version === next.compiled.version && status.error === null) return;
      try {
        await t.publish(next.wasmPlugin, next.compiled.version);
        Object.assign(status, { version: next.compiled.version, distributedAt: Date.now(), error: null });
        this.o.log.info({ target: t.describe, version: next.compiled.version, keys: next.compiled.config.keys.length }, 'distributed');
        this.o.onDistributed?.(next.compiled.version, t.describe, true);
      } catch (err) {
        status.error = err instanceof Error ? err.message : String(err);
        this.o.log.error({ err, target: t.describe }, 'distribution failed; will retry');
        this.o.onDistributed?.(next.compiled.version, t.describe, false);
        this.scheduleRetry();
      }
    }));
  }
}
