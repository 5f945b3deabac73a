// createHost's implementation: one plugin on an Envoy-like topology (base VM, canary per configuration, N worker VMs
// and a main-thread VM), streams through worker VMs, ECDS-like reconfiguration, fail strategies, host-level stats.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  ConfigRejectedError, type DownstreamRequest, type FailStrategy, type Host, type HostEvent, type HostOptions,
  type HostStats, type LogLevel, type LogRecord, type MetricSample, type PluginSpec, type StreamResult, type Upstream,
} from '../contract.js';
import { LOG_LEVELS } from '../abi/constants.js';
import { FilterStream, EMPTY, failStreamReply, type FinalReply } from './filter-stream.js';
import { HostClock } from './host-clock.js';
import { createHttpCaller } from '../http/http-call.js';
import { Interleaver } from './interleave.js';
import { MetricRegistry, prometheusName } from './metric-registry.js';
import { checkModule } from '../abi/module-check.js';
import { Exchange } from '../http/exchange.js';
import { downstreamHeaders } from '../http/http-messages.js';
import { headerLimitViolation } from '../http/downstream-limits.js';
import { proxyFunctions } from '../abi/host-functions.js';
import { SharedStore, type SharedEntry } from './shared-store.js';
import { Vm, VmTrap, type VmServices } from './vm.js';
import { wasm, type WasmModule } from './webassembly.js';

const utf8 = new TextEncoder();
const bytesOf = (v: Uint8Array | string | undefined): Uint8Array => (v === undefined ? EMPTY : typeof v === 'string' ? utf8.encode(v) : v);

function stderrLog(minimum: LogLevel): (record: LogRecord) => void {
  return (record) => {
    if (LOG_LEVELS.indexOf(record.level) < LOG_LEVELS.indexOf(minimum)) return;
    process.stderr.write(`[wasm ${record.vm}] ${record.level}: ${record.message}\n`);
  };
}


interface Plugin {
  spec: PluginSpec;
  module: WasmModule;
  vmConfig: Uint8Array;
  pluginConfig: Uint8Array;
  failStrategy: FailStrategy;
}

export class PluginHost implements Host {
  readonly workers: number;
  readonly clock: HostClock;
  private readonly store = new SharedStore();
  private readonly registry = new MetricRegistry();
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly eventLog: HostEvent[] = [];
  private readonly counters: HostStats = { vmFailures: 0, failClosedReplies: 0, failOpenBypasses: 0, reloads: 0, configRejections: 0, configGeneration: 0 };
  private readonly logSink: (record: LogRecord) => void;
  private readonly interleaver: Interleaver<Vm> | undefined;
  private readonly services: VmServices;
  private plugin: Plugin | undefined;
  private workerVms: Vm[] = [];
  private mainVm: Vm | undefined;
  /** Active root context id per VM. */
  private readonly activeRoot = new Map<Vm, number>();
  private readonly liveStreams = new Set<FilterStream>();
  /** Canary verdict per plugin configuration: true, or the rejection reason. */
  private readonly canaryVerdicts = new Map<string, true | string>();
  private configChain: Promise<unknown> = Promise.resolve();
  /** "vm:rootId" of replaced root contexts waiting for their streams to finish. */
  private readonly retiring = new Set<string>();
  private inflightCalls = 0;
  private roundRobin = 0;
  private capture: LogRecord[] | undefined;

  constructor(private readonly options: HostOptions = {}) {
    this.workers = Math.max(1, options.workers ?? 2);
    this.clock = new HostClock(options.clock ?? 'virtual', options.startTimeMs ?? Date.now());
    this.logSink = options.onLog ?? stderrLog(options.logLevel ?? 'info');
    this.interleaver = options.interleaveSeed === undefined ? undefined : new Interleaver<Vm>(options.interleaveSeed);
    const caller = createHttpCaller(this.clock, this.agent);
    this.services = {
      clock: this.clock,
      store: this.store,
      metrics: this.registry,
      clusters: options.clusters ?? {},
      logLevel: LOG_LEVELS.indexOf(options.logLevel ?? 'info'),
      properties: options.properties ?? {},
      log: (vm, level, message) => this.emitLog({ vm, level, message }),
      onTrap: (vm, reason) => this.vmTrapped(vm, reason),
      onSharedDataCall: (vm) => this.interleaver?.maybeRun(vm),
      hostFunctions: proxyFunctions,
      httpCall: (cluster, headers, body, trailers, timeoutMs, done) => {
        this.inflightCalls++;
        let counted = true;
        const handle = caller(cluster, headers, body, trailers, timeoutMs, (outcome) => {
          if (counted) this.inflightCalls--;
          counted = false;
          done(outcome);
        });
        return {
          cancel: () => {
            if (counted) this.inflightCalls--;
            counted = false;
            handle.cancel();
          },
        };
      },
    };
  }

  private emitLog(record: LogRecord): void {
    this.capture?.push(record);
    this.logSink(record);
  }

  private event(e: HostEvent): void {
    this.eventLog.push(e);
  }

  private vmTrapped(vm: Vm, reason: string): void {
    if (vm.label === 'canary' || vm.label === 'base') return;
    this.counters.vmFailures++;
    this.event({ kind: 'vm_failed', vm: vm.label, reason });
    this.emitLog({ vm: vm.label, level: 'critical', message: `wasm VM failed: ${reason}` });
    for (const s of this.liveStreams) if (s.vm === vm) s.vmFailed();
  }

  private async newVm(label: string, worker: number, plugin: Plugin): Promise<Vm> {
    const vm = new Vm(label, worker, plugin.spec, plugin.vmConfig, this.services);
    await vm.start(plugin.module);
    return vm;
  }

  /** create(R, 0) → on_vm_start → on_configure, in one VM; throws with Envoy's reason on failure. */
  private createRoot(vm: Vm, plugin: Plugin, generation: number): number {
    const id = vm.nextContextId++;
    vm.contexts.set(id, { id, rootId: id, root: { generation, pendingDone: false, deleted: false } });
    vm.call('proxy_on_context_create', [id, 0], { contextId: id });
    if (vm.call('proxy_on_vm_start', [id, plugin.vmConfig.length], { contextId: id }) === 0) {
      throw new Error(`proxy_on_vm_start returned false (StartFailed) in ${vm.label}`);
    }
    const configured = vm.call('proxy_on_configure', [id, plugin.pluginConfig.length], { contextId: id, pluginConfig: plugin.pluginConfig });
    if (configured === 0) throw new Error(`proxy_on_configure returned false (ConfigureFailed) in ${vm.label}`);
    this.activeRoot.set(vm, id);
    return id;
  }

  /**
   * Envoy's base VM: instantiated and started once per module (its start function really runs), never given a root
   * context; canary and thread-local VMs are clones of it. A failure here refuses the module.
   */
  private async baseVm(plugin: Plugin): Promise<void> {
    this.capture = [];
    try {
      const vm = await this.newVm('base', -1, plugin);
      vm.failed = true; // holds no contexts; nothing may call into it
      vm.failReason = 'base VM';
    } catch (err) {
      const reason = err instanceof VmTrap ? `Failed to initialize Wasm code: ${err.message}` : (err as Error).message;
      this.counters.configRejections++;
      this.event({ kind: 'config_rejected', reason });
      throw new ConfigRejectedError(`wasm load failed: ${reason}`, this.capture);
    } finally {
      this.capture = undefined;
    }
  }

  /** The canary: a fresh clone configured once and dropped without done/delete; its side effects are real. */
  private async canary(plugin: Plugin, generation: number): Promise<void> {
    // Envoy caches the canary's verdict per plugin configuration on the base VM: a configuration seen before is not
    // run again (a rejected one is refused again without a canary).
    const key = Buffer.from(plugin.pluginConfig).toString('latin1');
    const cached = this.canaryVerdicts.get(key);
    if (cached === true) return;
    if (cached !== undefined) this.rejectConfig(cached, []);
    this.capture = [];
    let vm: Vm | undefined;
    try {
      vm = await this.newVm('canary', -1, plugin);
      this.createRoot(vm, plugin, generation);
      this.canaryVerdicts.set(key, true);
    } catch (err) {
      const reason = err instanceof VmTrap ? `wasm trap in canary: ${err.message}` : (err as Error).message;
      this.canaryVerdicts.set(key, reason);
      this.rejectConfig(reason, this.capture);
    } finally {
      this.capture = undefined;
      if (vm !== undefined) {
        for (const t of vm.ticks.values()) t.cancel();
        vm.ticks.clear();
        vm.failed = true; // dropped: late http_call responses and ticks go nowhere
        vm.failReason = 'canary dropped';
        this.activeRoot.delete(vm);
      }
    }
  }

  async load(spec: PluginSpec): Promise<void> {
    if (this.plugin !== undefined) throw new Error('host already has a plugin loaded');
    const bytes = spec.wasm;
    let module: WasmModule;
    try {
      module = await wasm.compile(bytes);
      checkModule(bytes, module);
    } catch (err) {
      this.counters.configRejections++;
      this.event({ kind: 'config_rejected', reason: (err as Error).message });
      throw new ConfigRejectedError(`wasm load failed: ${(err as Error).message}`);
    }
    const plugin: Plugin = {
      spec, module, vmConfig: bytesOf(spec.vmConfig), pluginConfig: bytesOf(spec.pluginConfig),
      failStrategy: spec.failStrategy ?? 'FAIL_CLOSE',
    };
    await this.baseVm(plugin);
    await this.canary(plugin, 1);
    this.plugin = plugin;
    this.counters.configGeneration = 1;
    for (let n = 0; n < this.workers; n++) this.workerVms.push(await this.startVm(`worker${n}`, n, plugin));
    this.mainVm = await this.startVm('main', -1, plugin);
    this.event({ kind: 'config_applied', generation: 1 });
  }

  /** Starts and configures a VM; a failure after the canary passed marks just that VM failed. */
  private async startVm(label: string, worker: number, plugin: Plugin): Promise<Vm> {
    const vm = new Vm(label, worker, plugin.spec, plugin.vmConfig, this.services);
    try {
      await vm.start(plugin.module);
      this.createRoot(vm, plugin, this.counters.configGeneration);
    } catch (err) {
      if (!(err instanceof VmTrap)) vm.markFailed((err as Error).message);
    }
    return vm;
  }

  private rejectConfig(reason: string, logs: LogRecord[]): never {
    this.counters.configRejections++;
    this.event({ kind: 'config_rejected', reason });
    throw new ConfigRejectedError(reason, logs);
  }

  /** Configuration updates apply one at a time, in call order (as xDS updates do on the main thread). */
  reconfigure(pluginConfig: Uint8Array | string): Promise<void> {
    const run = this.configChain.then(() => this.applyConfig(pluginConfig));
    this.configChain = run.catch(() => undefined);
    return run;
  }

  private async applyConfig(pluginConfig: Uint8Array | string): Promise<void> {
    const current = this.requirePlugin();
    const next: Plugin = { ...current, pluginConfig: bytesOf(pluginConfig) };
    const generation = this.counters.configGeneration + 1;
    await this.canary(next, generation);
    this.plugin = next;
    this.counters.configGeneration = generation;
    const vms = [...this.workerVms, this.mainVm!];
    for (const [n, vm] of vms.entries()) {
      if (vm.failed) {
        // A config change replaces a failed VM (FAIL_CLOSE keeps failing only until then).
        const fresh = await this.startVm(vm.label, vm.worker, next);
        if (n < this.workerVms.length) this.workerVms[n] = fresh;
        else this.mainVm = fresh;
        continue;
      }
      const oldRoot = this.activeRoot.get(vm);
      try {
        this.createRoot(vm, next, generation);
      } catch (err) {
        if (!(err instanceof VmTrap)) vm.markFailed((err as Error).message);
        continue;
      }
      if (oldRoot !== undefined) this.retireRoot(vm, oldRoot);
    }
    this.event({ kind: 'config_applied', generation });
  }

  /** The old root of a replaced configuration shuts down once its in-flight streams are over (they hold the plugin). */
  private retireRoot(vm: Vm, rootId: number): void {
    const busy = [...this.liveStreams].some((s) => s.vm === vm && s.rootId === rootId);
    if (busy) this.retiring.add(`${vm.label}:${rootId}`);
    else this.shutdownRoot(vm, rootId);
  }

  /** on_done(R): true → on_delete now; false → pending until the plugin calls proxy_done. */
  private shutdownRoot(vm: Vm, rootId: number): void {
    const ctx = vm.contexts.get(rootId);
    if (ctx?.root === undefined) return;
    let done: number | undefined;
    try {
      done = vm.call('proxy_on_done', [rootId], { contextId: rootId });
    } catch (err) {
      if (!(err instanceof VmTrap)) throw err;
      return;
    }
    if (done === 0) ctx.root.pendingDone = true;
    else vm.finishRoot(rootId);
  }

  private requirePlugin(): Plugin {
    if (this.plugin === undefined) throw new Error('no plugin loaded: call load() first');
    return this.plugin;
  }

  private pickWorker(req: DownstreamRequest): number {
    if (req.worker !== undefined) {
      if (req.worker < 0 || req.worker >= this.workers) throw new RangeError(`worker ${req.worker} out of range`);
      return req.worker;
    }
    return this.roundRobin++ % this.workers;
  }

  /** The VM a new stream on this worker uses, applying the fail strategy of a failed VM (null = no filter). */
  private async vmForStream(worker: number, rejectedByCodec = false): Promise<{ vm: Vm } | { bypass: true } | { failClosed: true }> {
    const plugin = this.requirePlugin();
    let vm = this.workerVms[worker]!;
    if (!vm.failed) return { vm };
    if (rejectedByCodec) return { bypass: true };
    if (plugin.failStrategy === 'FAIL_OPEN') {
      this.counters.failOpenBypasses++;
      return { bypass: true };
    }
    // Envoy (PluginConfig::maybeReloadHandleIfNeeded) measures the back-off from the handle's last load — its
    // creation or the previous reload attempt — not from the failure: a VM that ran for longer than the back-off is
    // rebuilt on the very next request, and a reload that fails again waits a full back-off.
    if (plugin.failStrategy === 'FAIL_RELOAD' && this.clock.now() - vm.loadedAtMs >= (this.options.reloadBackoffMs ?? 1000)) {
      vm = await this.startVm(vm.label, worker, plugin);
      this.workerVms[worker] = vm;
      this.counters.reloads++;
      this.event({ kind: 'vm_reloaded', vm: vm.label });
      if (!vm.failed) return { vm };
    }
    this.counters.failClosedReplies++;
    return { failClosed: true };
  }

  /**
   * Opens a stream on a worker (internal API shared with the HTTP front). `refused`: the front's codec/connection
   * manager reply for a request refused before the filter chain (the header limits' 431 still comes first).
   */
  async startStream(req: DownstreamRequest, worker: number, codecLimits = this.options.enforceHeaderLimits === true,
    refused?: FinalReply): Promise<Exchange> {
    const requestId = randomUUID();
    const headers = downstreamHeaders(req, requestId);
    const violation = codecLimits ? headerLimitViolation(headers) : undefined;
    // The codec's 431 comes before the filter chain (and before any failed-VM handling).
    const tooLarge: FinalReply | undefined = violation === undefined ? refused : {
      status: 431, details: violation, body: EMPTY, headers: [], grpcStatus: undefined, fromHost: true, duringDecode: true,
    };
    const choice = await this.vmForStream(worker, tooLarge !== undefined);
    if (!('vm' in choice)) {
      return new Exchange(this, undefined, headers, worker, tooLarge ?? ('failClosed' in choice ? failStreamReply(true) : undefined));
    }
    const vm = choice.vm;
    const info = {
      id: requestId, source: req.source ?? '127.0.0.1:40000', destination: req.destination ?? '127.0.0.1:8080', startMs: this.clock.now(), protocol: 'HTTP/1.1',
      scheme: req.scheme ?? 'http', originalPath: req.path, originalMethod: req.method,
      originalAuthority: req.authority ?? '',
    };
    const stream = new FilterStream(vm, this.activeRoot.get(vm)!, info, this.requirePlugin().failStrategy, () => {
      if (this.requirePlugin().failStrategy === 'FAIL_OPEN') this.counters.failOpenBypasses++;
      else this.counters.failClosedReplies++;
    });
    this.liveStreams.add(stream);
    return new Exchange(this, stream, headers, worker, tooLarge);
  }

  /** Called by an exchange when its stream is over. */
  streamFinished(stream: FilterStream): void {
    this.liveStreams.delete(stream);
    const key = `${stream.vm.label}:${stream.rootId}`;
    if (this.retiring.has(key) && ![...this.liveStreams].some((s) => s.vm === stream.vm && s.rootId === stream.rootId)) {
      this.retiring.delete(key);
      if (!stream.vm.failed) this.shutdownRoot(stream.vm, stream.rootId);
    }
  }

  /** Internal, for conformance tests: a probe run inside every guest callback (see VmServices.onCallback). */
  setCallbackProbe(probe: ((vm: Vm, name: string, args: number[]) => void) | undefined): void {
    this.services.onCallback = probe;
  }

  /** Internal, for tests: the current worker VMs and the main-thread VM. */
  vms(): { workers: Vm[]; main: Vm | undefined } {
    return { workers: [...this.workerVms], main: this.mainVm };
  }

  interleaving(): Interleaver<Vm> | undefined {
    return this.interleaver;
  }

  async request(req: DownstreamRequest, upstream?: Upstream): Promise<StreamResult> {
    const exchange = await this.startStream(req, this.pickWorker(req));
    const body = bytesOf(req.body);
    await exchange.requestHeaders(body.length === 0 && (req.trailers ?? []).length === 0);
    return exchange.finish(body, req.trailers, upstream);
  }

  async openStream(req: DownstreamRequest) {
    const exchange = await this.startStream(req, this.pickWorker(req));
    const body = bytesOf(req.body);
    await exchange.requestHeaders(body.length === 0 && (req.trailers ?? []).length === 0);
    return {
      id: exchange.stream?.id ?? 0,
      worker: exchange.worker,
      finish: (upstream?: Upstream) => exchange.finish(body, req.trailers, upstream),
    };
  }

  async advance(ms: number): Promise<void> {
    await this.clock.advance(ms);
    await new Promise((resolve) => setImmediate(resolve));
  }

  async settle(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inflightCalls > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
    await new Promise((resolve) => setImmediate(resolve));
  }

  now(): number {
    return this.clock.now();
  }

  metrics(): MetricSample[] {
    return this.registry.samples();
  }

  prometheus(): string {
    const lines: string[] = [];
    for (const m of this.registry.samples()) {
      const name = prometheusName(m.name);
      if (name === undefined) continue;
      if (m.type === 'histogram') {
        lines.push(`# TYPE ${name} summary`, `${name}_sum ${m.value}`, `${name}_count ${m.count ?? 0}`);
      } else lines.push(`# TYPE ${name} ${m.type}`, `${name} ${m.value}`);
    }
    const s = this.counters;
    const host: Array<[string, string, number]> = [
      ['tollgate_host_vm_failures_total', 'counter', s.vmFailures],
      ['tollgate_host_fail_closed_replies_total', 'counter', s.failClosedReplies],
      ['tollgate_host_fail_open_bypasses_total', 'counter', s.failOpenBypasses],
      ['tollgate_host_vm_reloads_total', 'counter', s.reloads],
      ['tollgate_host_config_rejections_total', 'counter', s.configRejections],
      ['tollgate_host_config_generation', 'gauge', s.configGeneration],
    ];
    for (const [name, type, value] of host) lines.push(`# TYPE ${name} ${type}`, `${name} ${value}`);
    return `${lines.join('\n')}\n`;
  }

  stats(): HostStats {
    return { ...this.counters };
  }

  events(): HostEvent[] {
    return [...this.eventLog];
  }

  sharedData(vmId: string): Map<string, SharedEntry> {
    return new Map(this.store.partition(vmId));
  }

  async close(): Promise<void> {
    this.clock.cancelAll();
    for (const vm of [...this.workerVms, ...(this.mainVm ? [this.mainVm] : [])]) {
      // As Envoy tearing the plugin down: no callback reaches these VMs any more (a late http_call answer would
      // otherwise re-arm a tick or send another call, and keep the process alive).
      vm.failed = true;
      for (const p of vm.pendingHttp.values()) p.handle.cancel();
      vm.pendingHttp.clear();
      for (const t of vm.ticks.values()) t.cancel();
      vm.ticks.clear();
    }
    this.agent.destroy();
  }
}


export function createHost(options: HostOptions = {}): Host {
  return new PluginHost(options);
}

export type { LogLevel };
