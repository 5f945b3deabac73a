// One Wasm VM (an Envoy thread-local clone): instantiation with Envoy's strict linking, the start function with the
// restricted import set, context bookkeeping, callback frames (current/effective context, http_call response data,
// plugin configuration), and trap → VM failure.
import type { ClusterSpec, LogLevel, PluginSpec } from '../contract.js';
import { WasmResult } from '../abi/constants.js';
import { PROXY_SIGNATURES, START_ALLOWED, WASI_MODULES, WASI_SIGNATURES } from '../abi/signatures.js';
import { GuestMemory, OutOfBounds } from '../abi/guest-memory.js';
import type { HostClock, TimerHandle } from './host-clock.js';
import type { MetricRegistry, Stat } from './metric-registry.js';
import type { HeaderPairs } from '../abi/pairs.js';
import type { SharedStore } from './shared-store.js';
import type { ContextRecord, StreamState } from './stream-state.js';
import { wasiFunctions } from '../abi/wasi.js';
import { isMemory, wasm, type WasmImports, type WasmInstance, type WasmModule } from './webassembly.js';
import type { HttpCallHandle, HttpCallOutcome } from '../http/http-call.js';

/** Everything a VM needs from its host (shared across all VMs of the host). */
export interface VmServices {
  clock: HostClock;
  store: SharedStore;
  metrics: MetricRegistry;
  clusters: Record<string, ClusterSpec>;
  logLevel: number;
  properties: Record<string, string | number | boolean | Uint8Array>;
  log(vm: string, level: LogLevel, message: string): void;
  onTrap(vm: Vm, reason: string): void;
  /** Interleaving hook, called around shared-data operations (see interleave.ts). */
  onSharedDataCall(vm: Vm): void;
  /** Test probe: runs inside every guest callback's frame, before the guest code (conformance tests script the
   *  guest's host calls through it). Never set in production use. */
  onCallback?: (vm: Vm, name: string, args: number[]) => void;
  /** The env.proxy_* implementations bound to one VM (abi/host-functions.ts). Injected rather than imported because
   *  the host functions act on a Vm: the ABI depends on the VM, never the other way round. */
  hostFunctions(vm: Vm): Record<string, (...args: never[]) => unknown>;
  httpCall(cluster: ClusterSpec, headers: HeaderPairs, body: Uint8Array, trailers: HeaderPairs, timeoutMs: number,
    done: (outcome: HttpCallOutcome) => void): HttpCallHandle;
}

export class VmTrap extends Error {
  constructor(readonly vm: string, reason: string) {
    super(reason);
    this.name = 'VmTrap';
  }
}

export class LinkError extends Error {}

export interface HttpCallData {
  headers: HeaderPairs;
  body: Uint8Array;
  trailers: HeaderPairs;
}

export interface Frame {
  contextId: number;
  effectiveId: number;
  httpCall?: HttpCallData;
  pluginConfig?: Uint8Array;
}

type Export = (...args: Array<number | bigint>) => unknown;

export class Vm {
  readonly memory = new GuestMemory();
  readonly contexts = new Map<number, ContextRecord>();
  readonly frames: Frame[] = [];
  readonly metricIds = new Map<number, Stat>();
  readonly nextMetricId = [4, 5, 6];
  readonly pendingHttp = new Map<number, { rootId: number; handle: HttpCallHandle }>();
  readonly ticks = new Map<number, TimerHandle>();
  nextContextId = 1;
  nextHttpToken = 4;
  /** proxy_get_status per root context (Envoy's Context::status_code_/status_message_): the code is sticky. */
  readonly statuses = new Map<number, { code: number; message: string }>();
  failed = false;
  failReason = '';
  failedAtMs = 0;
  /** When this VM was created (Envoy's handle `last_load`): FAIL_RELOAD's back-off counts from here. */
  readonly loadedAtMs: number;
  private restricted = false;
  private exports: Record<string, unknown> = {};

  constructor(readonly label: string, readonly worker: number, readonly spec: PluginSpec, readonly vmConfig: Uint8Array,
    readonly services: VmServices) {
    this.loadedAtMs = services.clock.now();
  }

  get busy(): boolean {
    return this.frames.length > 0 || this.restricted;
  }

  /** Instantiates and runs the start function. Throws LinkError (load failure) or VmTrap. */
  async start(module: WasmModule): Promise<void> {
    const imports = this.buildImports();
    let instance: WasmInstance;
    try {
      instance = await wasm.instantiate(module, imports);
    } catch (err) {
      throw new LinkError(`instantiation failed: ${(err as Error).message}`);
    }
    this.exports = instance.exports;
    const memory = isMemory(this.exports.memory) ? this.exports.memory : undefined;
    // Envoy (proxy-wasm-cpp-host) looks up `malloc` before `proxy_on_memory_allocate`.
    const allocator = (this.fn('malloc') ?? this.fn('proxy_on_memory_allocate'));
    if (allocator === undefined) throw new LinkError('Wasm module is missing malloc function.');
    this.memory.bind(memory, (size) => Number(allocator(size)) >>> 0);
    const initialize = this.fn('_initialize');
    const main = this.fn('main');
    const start = this.fn('_start');
    this.restricted = true;
    try {
      if (initialize !== undefined) {
        initialize();
        if (main !== undefined) main(0, 0);
      } else if (start !== undefined) start();
    } catch (err) {
      this.markFailed(`start failed: ${(err as Error).message}`);
      throw new VmTrap(this.label, this.failReason);
    } finally {
      this.restricted = false;
    }
  }

  fn(name: string): Export | undefined {
    const f = this.exports[name];
    return typeof f === 'function' ? (f as Export) : undefined;
  }

  has(name: string): boolean {
    return this.fn(name) !== undefined;
  }

  /** Calls a guest export inside a frame; a missing export returns undefined. A trap fails the VM and throws VmTrap. */
  call(name: string, args: number[], frame: Partial<Frame> & { contextId: number }): number | undefined {
    if (this.failed) throw new VmTrap(this.label, this.failReason);
    const f = this.fn(name);
    if (f === undefined) return undefined;
    this.frames.push({ effectiveId: frame.contextId, ...frame });
    try {
      this.services.onCallback?.(this, name, args);
      const r = f(...args);
      return typeof r === 'number' ? r >>> 0 : typeof r === 'bigint' ? Number(r) : undefined;
    } catch (err) {
      if (err instanceof VmTrap) throw err;
      this.markFailed(`${name}: ${(err as Error).message}`);
      throw new VmTrap(this.label, this.failReason);
    } finally {
      this.frames.pop();
    }
  }

  markFailed(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.failReason = reason;
    this.failedAtMs = this.services.clock.now();
    for (const t of this.ticks.values()) t.cancel();
    this.ticks.clear();
    for (const p of this.pendingHttp.values()) p.handle.cancel();
    this.pendingHttp.clear();
    this.services.onTrap(this, reason);
  }

  frame(): Frame | undefined {
    return this.frames[this.frames.length - 1];
  }

  /** The context host calls act on: the effective context of the running callback. */
  effective(): ContextRecord | undefined {
    const f = this.frame();
    return f === undefined ? undefined : this.contexts.get(f.effectiveId);
  }

  streamOf(ctx: ContextRecord | undefined): StreamState | undefined {
    return ctx?.stream;
  }

  log(level: LogLevel, message: string): void {
    this.services.log(this.label, level, message);
  }

  /** Deletes a root context after on_done said true or the plugin called proxy_done. */
  finishRoot(rootId: number): void {
    const ctx = this.contexts.get(rootId);
    if (ctx?.root === undefined || ctx.root.deleted) return;
    ctx.root.deleted = true;
    this.ticks.get(rootId)?.cancel();
    this.ticks.delete(rootId);
    try {
      this.call('proxy_on_delete', [rootId], { contextId: rootId });
    } catch (err) {
      if (!(err instanceof VmTrap)) throw err;
    }
    this.contexts.delete(rootId);
    // Envoy's ~Context cancels the root context's outstanding http_calls: no response is ever delivered for them.
    for (const [token, pending] of this.pendingHttp) {
      if (pending.rootId !== rootId) continue;
      pending.handle.cancel();
      this.pendingHttp.delete(token);
    }
  }

  private wrap(name: string, impl: (...args: never[]) => unknown, wasi: boolean): (...args: never[]) => unknown {
    return (...args: never[]) => {
      if (this.restricted && !START_ALLOWED.has(name)) {
        throw new wasm.RuntimeError(`restricted_callback: ${name} called during start`);
      }
      this.effective()?.stream?.countCall(name);
      try {
        return impl(...args);
      } catch (err) {
        if (err instanceof OutOfBounds) return wasi ? 21 /* EFAULT */ : WasmResult.InvalidMemoryAccess;
        throw err;
      }
    };
  }

  private buildImports(): WasmImports {
    const env: Record<string, (...args: never[]) => unknown> = {};
    for (const [name, impl] of Object.entries(this.services.hostFunctions(this))) {
      if (name in PROXY_SIGNATURES) env[name] = this.wrap(name, impl, false);
    }
    const wasi = wasiFunctions({
      memory: this.memory,
      env: this.spec.env ?? {},
      log: (level, message) => this.log(level, message),
      wallNs: () => this.services.clock.wallNs(),
      monotonicNs: () => this.services.clock.monotonicNs(),
    });
    const wasiModule: Record<string, (...args: never[]) => unknown> = {};
    for (const [name, impl] of Object.entries(wasi)) {
      if (name in WASI_SIGNATURES) wasiModule[name] = this.wrap(name, impl, true);
    }
    const imports: WasmImports = { env };
    for (const m of WASI_MODULES) imports[m] = wasiModule;
    return imports;
  }
}
