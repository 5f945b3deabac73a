// Recompiles the store after changes (debounced): one configuration per target (each with its own APIs and reporter
// credential), rendered as the object of that target's resource kind (WasmPlugin, TrafficExtension or
// EnvoyExtensionPolicy; docs/deploy.md) and handed to every sink, remembering what went where and when.
// A failed compile or publish keeps the last good state and is reported, never thrown. Keys are not in the
// configuration (the filter pulls them from the key feed), so a key write recompiles to the same version and no sink
// is written to.
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { compile, type CompiledConfig, type PolicySnapshot } from '../compiler/compile.js';
import type { ChangeFeed } from '../store/changes.js';
import { AlwaysLeader, type Leadership } from '../replicas/leader.js';
import type { Store } from '../store/repository.js';
import type { TargetWithCredentials } from '../store/types.js';
import { DEFAULT_TARGET_ID } from '../store/sqlite/targets.js';
import { DEFAULT_RESOURCE_KIND, type ResourceKind } from '../../contracts/resources.js';
import { renderWasmPlugin, type PluginImage, type WasmPlugin } from './wasmplugin.js';
import { renderCompanions, renderResource } from './resources/render.js';
import { controlEndpoint, usageClusterFor } from './resources/control-cluster.js';
import { RenderError, type CompanionResource, type RenderedResource, type ResourceOptions } from './resources/resource.js';
import type { DistributionTarget, Rendered } from './targets/target.js';

/** `target`: the sink; `wasmPlugin`: namespace/name of what went there; `kind`: its resource kind. */
export interface TargetStatus { target: string; wasmPlugin: string; kind: ResourceKind; version: string | null; distributedAt: number | null; error: string | null }

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

/**
 * `resource`: the object of the target's kind; `wasmPlugin`: the same configuration as a WasmPlugin (the local
 * channel's view; the same object when the kind is WasmPlugin).
 */
export interface CurrentConfig extends Rendered {
  targetId: string; compiled: CompiledConfig; wasmPlugin: WasmPlugin; resource: RenderedResource; compiledAt: number;
  companions: readonly CompanionResource[];
  /**
   * SHA-256 of what the sinks get. The configuration's version alone misses changes outside the configuration
   * (placement, pull secret), which must go out too.
   */
  fingerprint: string;
}

/**
 * One target's configuration and its object (pure: the same snapshot and target give the same bytes). RenderError
 * when the target's kind cannot carry the filter image (an EnvoyExtensionPolicy with a file:// url).
 */
export function renderTarget(snapshot: PolicySnapshot, target: TargetWithCredentials, o: { plugin: PluginImage; usage: UsageEndpoint }): CurrentConfig {
  const kind = target.kind ?? DEFAULT_RESOURCE_KIND;
  // The cluster depends on the kind: Istio's outbound cluster, or (Envoy Gateway) one of the target's own.
  const cluster = usageClusterFor(kind, target, o.usage.cluster);
  const compiled = compile(snapshot, { target, usage: { ...o.usage, cluster, reportToken: target.reportToken } });
  const options: ResourceOptions = {
    ...o.plugin, name: target.name, namespace: target.namespace,
    selector: target.selector ?? undefined, targetRefs: target.targetRefs ?? undefined,
    ...(target.imagePullSecret != null ? { imagePullSecret: target.imagePullSecret } : {}),
  };
  const wasmPlugin = renderWasmPlugin(compiled.config, compiled.version, options);
  const resource = kind === 'WasmPlugin' ? wasmPlugin : renderResource(kind, compiled.config, compiled.version, options);
  const companions = renderCompanions(kind, options, cluster, controlEndpoint(o.usage));
  const fingerprint = createHash('sha256').update(JSON.stringify(resource)).update(resource === wasmPlugin ? '' : JSON.stringify(wasmPlugin))
    .update(JSON.stringify(companions)).digest('hex');
  return { targetId: target.id, compiled, wasmPlugin, resource, companions, compiledAt: Date.now(), fingerprint };
}

export class Distributor {
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private running: Promise<void> = Promise.resolve();
  private latest = new Map<string, CurrentConfig>();
  private readonly statuses = new Map<string, TargetStatus>();
  /**
   * Per sink and target: what was last published there successfully. A switch of kind, name or namespace withdraws
   * exactly that object, and keeps trying until it is gone before the new one is written.
   */
  private readonly placed = new Map<string, CurrentConfig>();
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
    const unrenderable: { target: TargetWithCredentials; message: string }[] = [];
    try {
      const snapshot = await this.o.store.snapshot();
      for (const t of snapshot.targets) {
        try {
          next.set(t.id, renderTarget(snapshot, t, { plugin: this.o.plugin, usage: this.o.usage }));
        } catch (err) {
          if (!(err instanceof RenderError)) throw err;
          // This target only: it keeps what its sinks last got (nothing is withdrawn), the others go ahead.
          unrenderable.push({ target: t, message: err.message });
          const kept = this.latest.get(t.id);
          if (kept !== undefined) next.set(t.id, kept);
        }
      }
    } catch (err) {
      this.o.log.error({ err }, 'compiling the filter configuration failed; keeping the last good one');
      return;
    }
    const previous = this.latest;
    this.latest = next;
    const jobs: Promise<void>[] = [];
    // Shared sinks only from the leading replica; each replica keeps its own (local) sinks current.
    const sinks = this.o.targets.filter((t) => !t.shared || this.leadership.isLeader);
    for (const { target, message } of unrenderable) {
      this.o.log.error({ target: target.id, kind: target.kind }, `rendering failed: ${message}`);
      for (const t of sinks) this.recordUnrenderable(t, target, message);
    }
    const failed = new Set(unrenderable.map((u) => u.target.id));
    for (const cur of next.values()) {
      if (failed.has(cur.targetId)) continue;
      const name = `${cur.resource.metadata.namespace}/${cur.resource.metadata.name}`;
      for (const t of sinks) jobs.push(this.publishOne(t, cur, name, previous.get(cur.targetId)));
    }
    // Targets deleted since the last run: their WasmPlugins are withdrawn from every sink.
    for (const gone of previous.values()) {
      if (next.has(gone.targetId)) continue;
      for (const t of sinks) jobs.push(this.retractOne(t, gone));
    }
    await Promise.all(jobs);
  }

  private statusOf(t: DistributionTarget, targetId: string, name: string, kind: ResourceKind): TargetStatus {
    const key = `${t.describe}\u0000${targetId}`;
    let status = this.statuses.get(key);
    if (status === undefined) {
      status = { target: t.describe, wasmPlugin: name, kind, version: null, distributedAt: null, error: null };
      this.statuses.set(key, status);
    }
    return status;
  }

  private recordUnrenderable(t: DistributionTarget, target: TargetWithCredentials, message: string): void {
    this.statusOf(t, target.id, `${target.namespace}/${target.name}`, target.kind ?? DEFAULT_RESOURCE_KIND).error = message;
  }

  private async publishOne(t: DistributionTarget, cur: CurrentConfig, name: string, before: CurrentConfig | undefined): Promise<void> {
    const status = this.statusOf(t, cur.targetId, name, cur.resource.kind);
    const key = `${t.describe}\u0000${cur.targetId}`;
    // What this sink holds: known once published here; otherwise (say, just after becoming the leader) what the last
    // run rendered is the best guess.
    const held = this.placed.get(key) ?? before;
    const was = held?.resource;
    const moved = was !== undefined && (was.kind !== cur.resource.kind || was.metadata.name !== cur.resource.metadata.name || was.metadata.namespace !== cur.resource.metadata.namespace);
    if (this.placed.get(key)?.fingerprint === cur.fingerprint && status.error === null && !moved) return;
    try {
      // A target renamed, moved to another namespace or switched to another kind leaves its old object behind
      // otherwise. Withdrawn before the new one is written: two kinds for one proxy would run the filter twice
      // (every request counted twice); a moment without either is the lesser harm (docs/deploy.md).
      if (moved) {
        // Remembered first, so a failed withdrawal is tried again on the retry rather than skipped.
        this.placed.set(key, held!);
        await t.retract?.(held!, held!.targetId);
        this.placed.delete(key);
      }
      await t.publish(cur, cur.compiled.version, cur.targetId);
      // Companions the target no longer needs (a Gateway left its targetRefs), once the new ones are in place.
      const keep = new Set((cur.companions ?? []).map(objectKey));
      const stale = moved ? [] : (held?.companions ?? []).filter((c) => !keep.has(objectKey(c)));
      if (stale.length > 0) await t.withdraw?.(stale);
      Object.assign(status, { wasmPlugin: name, kind: cur.resource.kind, version: cur.compiled.version, distributedAt: Date.now(), error: null });
      this.placed.set(key, cur);
      this.o.log.info({ target: t.describe, wasmPlugin: name, version: cur.compiled.version }, 'distributed');
      this.o.onDistributed?.(cur.compiled.version, t.describe, true);
    } catch (err) {
      status.error = err instanceof Error ? err.message : String(err);
      this.o.log.error({ err, target: t.describe, wasmPlugin: name }, 'distribution failed; will retry');
      this.o.onDistributed?.(cur.compiled.version, t.describe, false);
      this.scheduleRetry();
    }
  }

  private async retractOne(t: DistributionTarget, last: CurrentConfig): Promise<void> {
    const key = `${t.describe}\u0000${last.targetId}`;
    const gone = this.placed.get(key) ?? last;
    this.statuses.delete(key);
    this.placed.delete(key);
    try {
      await t.retract?.(gone, gone.targetId);
      this.o.log.info({ target: t.describe, kind: gone.resource.kind, wasmPlugin: `${gone.resource.metadata.namespace}/${gone.resource.metadata.name}` }, 'withdrawn');
    } catch (err) {
      this.o.log.error({ err, target: t.describe }, 'withdrawing a deleted target\'s object failed');
    }
  }
}

function objectKey(o: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
}
