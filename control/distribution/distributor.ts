// Recompiles the store after changes (debounced): one configuration per target (each with its own APIs and reporter
// credential), rendered as that target's WasmPlugin and handed to every sink, remembering what went where and when.
// A failed compile or publish keeps the last good state and is reported, never thrown. Keys are not in the
// configuration (the filter pulls them from the key feed), so a key write recompiles to the same version and no sink
// is written to.
import type { FastifyBaseLogger } from 'fastify';
import { compile, type CompiledConfig, type PolicySnapshot } from '../compiler/compile.js';
import type { ChangeFeed } from '../store/changes.js';
import { AlwaysLeader, type Leadership } from '../replicas/leader.js';
import type { Store } from '../store/repository.js';
import type { TargetWithCredentials } from '../store/types.js';
import { DEFAULT_TARGET_ID } from '../store/sqlite/targets.js';
import { renderWasmPlugin, type PluginImage, type WasmPlugin } from './wasmplugin.js';
import type { DistributionTarget } from './targets/target.js';

/** `target`: the sink; `wasmPlugin`: namespace/name of what went there. */
export interface TargetStatus { target: string; wasmPlugin: string; version: string | null; distributedAt: number | null; error: string | null }

export interface UsageEndpoint { cluster: string; authority: string; intervalMs: number; timeoutMs: number }

export interface DistributorOptions {
  store: Store;
  /** The store's change feed: every change schedules a redistribution (absent: only explicit runs). */
  changes?: ChangeFeed;
  targets: DistributionTarget[];
  plugin: PluginImage;
  usage: UsageEndpoint;
  debounceMs: number;
  /** After a failed publish, try again this much later (default 5 s). */
  retryMs?: number;
  log: FastifyBaseLogger;
  onDistributed?: (version: string, target: string, ok: boolean) => void;
  /** Whether this replica may publish to shared sinks (default: always, a single process). */
  leadership?: Leadership;
}

export interface CurrentConfig { targetId: string; compiled: CompiledConfig; wasmPlugin: WasmPlugin; compiledAt: number }

/** One target's configuration and WasmPlugin (pure: the same snapshot and target give the same bytes). */
export function renderTarget(snapshot: PolicySnapshot, target: TargetWithCredentials, o: { plugin: PluginImage; usage: UsageEndpoint }): CurrentConfig {
  const compiled = compile(snapshot, { target, usage: { ...o.usage, reportToken: target.reportToken } });
  const wasmPlugin = renderWasmPlugin(compiled.config, compiled.version, {
    ...o.plugin, name: target.name, namespace: target.namespace,
    selector: target.selector ?? undefined, targetRefs: target.targetRefs ?? undefined,
  });
  return { targetId: target.id, compiled, wasmPlugin, compiledAt: Date.now() };
}

export class Distributor {
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private running: Promise<void> = Promise.resolve();
  private latest = new Map<string, CurrentConfig>();
  private readonly statuses = new Map<string, TargetStatus>();
  private closed = false;

  private readonly unsubscribe: () => void;

  private readonly leadership: Leadership;

  constructor(private readonly o: DistributorOptions) {
    this.unsubscribe = o.changes?.subscribe(() => this.schedule()) ?? ((): void => {});
    this.leadership = o.leadership ?? new AlwaysLeader();
    // A replica that becomes the leader publishes at once: the shared sinks may hold what the old leader last wrote.
    this.leadership.onChange((leader) => { if (leader && !this.closed) void this.distributeNow(); });
  }

  /** Whether this replica publishes to shared sinks now. */
  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  /** The default target's configuration. */
  get current(): CurrentConfig | undefined {
    return this.latest.get(DEFAULT_TARGET_ID);
  }

  currentFor(targetId: string): CurrentConfig | undefined {
    return this.latest.get(targetId);
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
    this.unsubscribe();
    await this.flush();
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
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
    const next = new Map<string, CurrentConfig>();
    try {
      const snapshot = await this.o.store.snapshot();
      for (const t of snapshot.targets) next.set(t.id, renderTarget(snapshot, t, { plugin: this.o.plugin, usage: this.o.usage }));
    } catch (err) {
      this.o.log.error({ err }, 'compiling the filter configuration failed; keeping the last good one');
      return;
    }
    const previous = this.latest;
    this.latest = next;
    const jobs: Promise<void>[] = [];
    // Shared sinks only from the leading replica; each replica keeps its own (local) sinks current.
    const sinks = this.o.targets.filter((t) => !t.shared || this.leadership.isLeader);
    for (const cur of next.values()) {
      const name = `${cur.wasmPlugin.metadata.namespace}/${cur.wasmPlugin.metadata.name}`;
      for (const t of sinks) jobs.push(this.publishOne(t, cur, name, previous.get(cur.targetId)));
    }
    // Targets deleted since the last run: their WasmPlugins are withdrawn from every sink.
    for (const gone of previous.values()) {
      if (next.has(gone.targetId)) continue;
      for (const t of sinks) jobs.push(this.retractOne(t, gone));
    }
    await Promise.all(jobs);
  }

  private async publishOne(t: DistributionTarget, cur: CurrentConfig, name: string, before: CurrentConfig | undefined): Promise<void> {
    const key = `${t.describe}\u0000${cur.targetId}`;
    let status = this.statuses.get(key);
    if (status === undefined) {
      status = { target: t.describe, wasmPlugin: name, version: null, distributedAt: null, error: null };
      this.statuses.set(key, status);
    }
    const moved = before !== undefined && (before.wasmPlugin.metadata.name !== cur.wasmPlugin.metadata.name || before.wasmPlugin.metadata.namespace !== cur.wasmPlugin.metadata.namespace);
    if (status.version === cur.compiled.version && status.error === null && !moved) return;
    try {
      // A target renamed or moved to another namespace leaves its old WasmPlugin behind otherwise.
      if (moved) await t.retract?.(before.wasmPlugin, before.targetId);
      await t.publish(cur.wasmPlugin, cur.compiled.version, cur.targetId);
      Object.assign(status, { wasmPlugin: name, version: cur.compiled.version, distributedAt: Date.now(), error: null });
      this.o.log.info({ target: t.describe, wasmPlugin: name, version: cur.compiled.version }, 'distributed');
      this.o.onDistributed?.(cur.compiled.version, t.describe, true);
    } catch (err) {
      status.error = err instanceof Error ? err.message : String(err);
      this.o.log.error({ err, target: t.describe, wasmPlugin: name }, 'distribution failed; will retry');
      this.o.onDistributed?.(cur.compiled.version, t.describe, false);
      this.scheduleRetry();
    }
  }

  private async retractOne(t: DistributionTarget, gone: CurrentConfig): Promise<void> {
    this.statuses.delete(`${t.describe}\u0000${gone.targetId}`);
    try {
      await t.retract?.(gone.wasmPlugin, gone.targetId);
      this.o.log.info({ target: t.describe, wasmPlugin: `${gone.wasmPlugin.metadata.namespace}/${gone.wasmPlugin.metadata.name}` }, 'withdrawn');
    } catch (err) {
      this.o.log.error({ err, target: t.describe }, 'withdrawing a deleted target\'s WasmPlugin failed');
    }
  }
}
