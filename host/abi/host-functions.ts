// The env.proxy_* host functions of ABI 0.2.1, with Envoy's return codes. Each takes the guest's raw arguments;
// bounds failures (OutOfBounds) are turned into InvalidMemoryAccess by the VM's import wrapper. The host wires this
// table into each VM through VmServices.hostFunctions, so this file depends on the VM and the VM not on it.
import { BufferType, LOG_LEVELS, MapType, WasmResult } from './constants.js';
import { addHeader, replaceHeader } from './header-map.js';
import { METRIC_KINDS } from '../runtime/metric-registry.js';
import { parsePairs, serializePairs } from './pairs.js';
import { resolveProperty, splitPath } from './properties.js';
import type { HeaderMapSlot, StreamState } from '../runtime/stream-state.js';
import { VmTrap, type Vm } from '../runtime/vm.js';
import type { HttpCallOutcome } from '../http/http-call.js';

const R = WasmResult;
const utf8 = new TextEncoder();

type MapLookup = { slot: HeaderMapSlot } | { error: number };

/**
 * Envoy's getConstMap (read) / getMap (write, and get_header_map_size): which header map a call sees right now.
 * The http_call response maps are read-only; in on_log the request/response maps are read-only copies and a missing
 * one reads as NotFound rather than "not available".
 */
function lookupMap(vm: Vm, type: number, write: boolean): MapLookup {
  if (type > MapType.HttpCallResponseTrailers || type < 0) return { error: R.BadArgument };
  if (type === MapType.HttpCallResponseHeaders || type === MapType.HttpCallResponseTrailers) {
    const call = vm.frame()?.httpCall;
    if (call === undefined || write) return { error: R.BadArgument };
    return { slot: { pairs: type === MapType.HttpCallResponseHeaders ? call.headers : call.trailers, access: 'ro' } };
  }
  if (type === MapType.GrpcReceiveInitialMetadata || type === MapType.GrpcReceiveTrailingMetadata) return { error: R.BadArgument };
  const stream = vm.effective()?.stream;
  if (stream?.logPhase === true && !write) {
    const slot = type === MapType.RequestTrailers ? undefined : stream.maps[type];
    return slot === undefined ? { error: R.NotFound } : { slot };
  }
  const slot = stream?.maps[type];
  if (slot === undefined || slot.access === 'none') return { error: R.BadArgument };
  if (write && slot.access !== 'rw') return { error: R.BadArgument };
  return { slot };
}

const MAX_BUFFER_TYPE = BufferType.CallData;
const EMPTY_BYTES = new Uint8Array(0);

const badMapType = (type: number): boolean => type >>> 0 > MapType.HttpCallResponseTrailers;

function lookupBuffer(vm: Vm, type: number): Uint8Array | undefined {
  const frame = vm.frame();
  switch (type) {
    case BufferType.HttpRequestBody:
    case BufferType.HttpResponseBody:
      // Envoy's getBuffer always hands out its body buffer wrapper, empty when no body is attached: status and reads
      // are Ok with 0 bytes outside a body callback; only writes need the live buffer (NotFound otherwise).
      return vm.effective()?.stream?.buffers[type]?.bytes ?? EMPTY_BYTES;
    case BufferType.HttpCallResponseBody:
      return frame?.httpCall?.body;
    case BufferType.VmConfiguration:
      return vm.vmConfig;
    case BufferType.PluginConfiguration:
      return frame?.pluginConfig;
    default:
      return undefined;
  }
}

function signalStream(stream: StreamState | undefined): void {
  stream?.signal();
}

export function proxyFunctions(vm: Vm): Record<string, (...args: never[]) => number> {
  const mem = vm.memory;
  const svc = vm.services;
  const currentRootId = (): number | undefined => vm.effective()?.rootId;

  const deliverHttpCall = (token: number, rootId: number, outcome: HttpCallOutcome) => {
    vm.pendingHttp.delete(token);
    const root = vm.contexts.get(rootId);
    if (vm.failed || root?.root === undefined || root.root.deleted) return;
    try {
      if (outcome.kind === 'reset') {
        // Envoy sets the root context's status for the callback and afterwards clears only the message: the code
        // stays 11 until something else sets it (a later successful response does not).
        const status = { code: R.BrokenConnection, message: 'reset' };
        vm.statuses.set(rootId, status);
        try {
          vm.call('proxy_on_http_call_response', [rootId, token, 0, 0, 0], { contextId: rootId });
        } finally {
          status.message = '';
        }
      } else {
        vm.call('proxy_on_http_call_response',
          [rootId, token, outcome.headers.length, outcome.body.length, outcome.trailers.length],
          { contextId: rootId, httpCall: { headers: outcome.headers, body: outcome.body, trailers: outcome.trailers } });
      }
    } catch (err) {
      if (!(err instanceof VmTrap)) throw err;
    }
  };

  return {
    proxy_log(level: number, ptr: number, size: number): number {
      const name = LOG_LEVELS[level];
      if (name === undefined) return R.BadArgument;
      vm.log(name, mem.readString(ptr, size));
      return R.Ok;
    },
    proxy_get_log_level(ptr: number): number {
      mem.writeU32(ptr, svc.logLevel);
      return R.Ok;
    },
    proxy_get_status(codePtr: number, msgPtrPtr: number, msgSizePtr: number): number {
      const ctx = vm.effective();
      // Each context has its own status; only root contexts (which own http_calls) ever get a non-zero one.
      const status = (ctx === undefined ? undefined : vm.statuses.get(ctx.id)) ?? { code: R.Ok, message: '' };
      mem.checkSlot(codePtr, 4);
      mem.copyOut(utf8.encode(status.message), msgPtrPtr, msgSizePtr);
      mem.writeU32(codePtr, status.code);
      return R.Ok;
    },
    proxy_set_property(pathPtr: number, pathSize: number, valuePtr: number, valueSize: number): number {
      const path = mem.readString(pathPtr, pathSize);
      const value = mem.read(valuePtr, valueSize);
      const stream = vm.effective()?.stream;
      if (stream === undefined) return R.NotFound;
      // Envoy keys the filter-state object by "wasm." + the raw path; get_property finds it by its first segment.
      stream.filterState.set(`wasm.${path}`, value);
      return R.Ok;
    },
    proxy_get_property(pathPtr: number, pathSize: number, valuePtrPtr: number, valueSizePtr: number): number {
      const path = splitPath(mem.readString(pathPtr, pathSize));
      const value = resolveProperty(path, vm.effective(), {
        pluginName: vm.spec.name, rootId: vm.spec.rootId, vmId: vm.spec.vmId, statics: svc.properties,
      });
      if (value === undefined) return R.NotFound;
      mem.copyOut(value, valuePtrPtr, valueSizePtr);
      return R.Ok;
    },
    proxy_send_local_response(status: number, detailsPtr: number, detailsSize: number, bodyPtr: number,
      bodySize: number, headersPtr: number, headersSize: number, grpcStatus: number): number {
      const details = mem.readString(detailsPtr, detailsSize).replace(/\s/g, '_');
      const body = mem.read(bodyPtr, bodySize);
      const headers = parsePairs(mem.read(headersPtr, headersSize));
      const stream = vm.effective()?.stream;
      if (stream === undefined) return R.Ok; // root context: accepted, no effect (as in Envoy)
      const grpc = grpcStatus | 0;
      if (stream.pendingReply === undefined) {
        stream.pendingReply = { status, details, body, headers, grpcStatus: grpc >= 0 && grpc <= 16 ? grpc : undefined };
      }
      signalStream(stream);
      return R.Ok;
    },
    proxy_get_shared_data(keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number, casPtr: number): number {
      const key = mem.readString(keyPtr, keySize);
      const entry = svc.store.get(vm.spec.vmId, key);
      svc.onSharedDataCall(vm);
      if (entry === undefined) return R.NotFound;
      mem.checkSlot(casPtr, 4);
      mem.copyOut(entry.value, valuePtrPtr, valueSizePtr);
      mem.writeU32(casPtr, entry.cas);
      return R.Ok;
    },
    proxy_set_shared_data(keyPtr: number, keySize: number, valuePtr: number, valueSize: number, cas: number): number {
      const key = mem.readString(keyPtr, keySize);
      const value = mem.read(valuePtr, valueSize);
      svc.onSharedDataCall(vm);
      return svc.store.set(vm.spec.vmId, key, value, cas >>> 0);
    },
    proxy_register_shared_queue(namePtr: number, nameSize: number, tokenPtr: number): number {
      const name = mem.readString(namePtr, nameSize);
      mem.checkSlot(tokenPtr, 4);
      const rootId = currentRootId();
      if (rootId === undefined) return R.BadArgument;
      const token = svc.store.registerQueue(vm.spec.vmId, name, {
        notify: (t) => setImmediate(() => {
          if (vm.failed || vm.contexts.get(rootId)?.root?.deleted !== false) return;
          try {
            vm.call('proxy_on_queue_ready', [rootId, t], { contextId: rootId });
          } catch (err) {
            if (!(err instanceof VmTrap)) throw err;
          }
        }),
      });
      mem.writeU32(tokenPtr, token);
      return R.Ok;
    },
    proxy_resolve_shared_queue(vmIdPtr: number, vmIdSize: number, namePtr: number, nameSize: number, tokenPtr: number): number {
      const vmId = mem.readString(vmIdPtr, vmIdSize);
      const name = mem.readString(namePtr, nameSize);
      mem.checkSlot(tokenPtr, 4);
      const token = svc.store.resolveQueue(vmId, name);
      if (token === undefined) return R.NotFound;
      mem.writeU32(tokenPtr, token);
      return R.Ok;
    },
    proxy_enqueue_shared_queue(token: number, dataPtr: number, dataSize: number): number {
      return svc.store.enqueue(token >>> 0, mem.read(dataPtr, dataSize));
    },
    proxy_dequeue_shared_queue(token: number, dataPtrPtr: number, dataSizePtr: number): number {
      mem.checkSlot(dataPtrPtr, 4);
      mem.checkSlot(dataSizePtr, 4);
      const { result, data } = svc.store.dequeue(token >>> 0);
      if (data !== undefined) mem.copyOut(data, dataPtrPtr, dataSizePtr);
      return result;
    },
    proxy_get_header_map_value(type: number, keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number): number {
      if (badMapType(type)) return R.BadArgument; // checked before any memory access, as Envoy does
      const key = mem.readString(keyPtr, keySize).toLowerCase();
      const m = lookupMap(vm, type, false);
      if ('error' in m) return m.error;
      const hit = m.slot.pairs.find(([k]) => k === key);
      if (hit === undefined) return R.NotFound;
      mem.copyOut(utf8.encode(hit[1]), valuePtrPtr, valueSizePtr);
      return R.Ok;
    },
    proxy_add_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
      if (badMapType(type)) return R.BadArgument; // checked before any memory access, as Envoy does
      const key = mem.readString(keyPtr, keySize).toLowerCase();
      const value = mem.readString(valuePtr, valueSize);
      const m = lookupMap(vm, type, true);
      if ('error' in m) return m.error;
      addHeader(m.slot.pairs, key, value);
      return R.Ok;
    },
    proxy_replace_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
      if (badMapType(type)) return R.BadArgument; // checked before any memory access, as Envoy does
      const key = mem.readString(keyPtr, keySize).toLowerCase();
      const value = mem.readString(valuePtr, valueSize);
      const m = lookupMap(vm, type, true);
      if ('error' in m) return m.error;
      replaceHeader(m.slot.pairs, key, value);
      return R.Ok;
    },
    proxy_remove_header_map_value(type: number, keyPtr: number, keySize: number): number {
      if (badMapType(type)) return R.BadArgument; // checked before any memory access, as Envoy does
      const key = mem.readString(keyPtr, keySize).toLowerCase();
      const m = lookupMap(vm, type, true);
      if ('error' in m) return m.error;
      const kept = m.slot.pairs.filter(([k]) => k !== key);
      m.slot.pairs.splice(0, m.slot.pairs.length, ...kept);
      return R.Ok;
    },
    proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number): number {
      const m = lookupMap(vm, type, false);
      if ('error' in m) {
        if (type > MapType.HttpCallResponseTrailers) return m.error;
        mem.copyOut(new Uint8Array(0), ptrPtr, sizePtr);
        return R.Ok;
      }
      mem.copyOut(m.slot.pairs.length === 0 ? new Uint8Array(0) : serializePairs(m.slot.pairs), ptrPtr, sizePtr);
      return R.Ok;
    },
    proxy_set_header_map_pairs(type: number, ptr: number, size: number): number {
      if (badMapType(type)) return R.BadArgument; // checked before any memory access, as Envoy does
      const pairs = parsePairs(mem.read(ptr, size));
      const m = lookupMap(vm, type, true);
      if ('error' in m) return m.error;
      m.slot.pairs.splice(0, m.slot.pairs.length);
      for (const [k, v] of pairs) addHeader(m.slot.pairs, k.toLowerCase(), v);
      return R.Ok;
    },
    proxy_get_header_map_size(type: number, sizePtr: number): number {
      if (badMapType(type)) return R.BadArgument; // checked before any memory access, as Envoy does
      const m = lookupMap(vm, type, true); // Envoy sizes the mutable map
      if ('error' in m) return m.error;
      mem.writeU32(sizePtr, m.slot.pairs.reduce((s, [k, v]) => s + utf8.encode(k).length + utf8.encode(v).length, 0));
      return R.Ok;
    },
    proxy_get_buffer_status(type: number, lengthPtr: number, flagsPtr: number): number {
      if (type >>> 0 > MAX_BUFFER_TYPE) return R.BadArgument;
      const buffer = lookupBuffer(vm, type);
      if (buffer === undefined) return R.NotFound;
      mem.writeU32(lengthPtr, buffer.length);
      mem.writeU32(flagsPtr, 0);
      return R.Ok;
    },
    proxy_get_buffer_bytes(type: number, start: number, length: number, ptrPtr: number, sizePtr: number): number {
      if (type >>> 0 > MAX_BUFFER_TYPE) return R.BadArgument;
      const buffer = lookupBuffer(vm, type);
      if (buffer === undefined) return R.NotFound;
      const s = start >>> 0;
      const l = length >>> 0;
      if (s + l > 0xffffffff) return R.BadArgument; // start + length overflows, as Envoy checks
      const from = Math.min(s, buffer.length);
      const to = Math.min(buffer.length, from + l);
      // Envoy leaves the out-slots untouched when there is nothing to copy.
      if (to > from) mem.copyOut(buffer.subarray(from, to), ptrPtr, sizePtr);
      return R.Ok;
    },
    proxy_set_buffer_bytes(type: number, start: number, length: number, dataPtr: number, dataSize: number): number {
      if (type >>> 0 > MAX_BUFFER_TYPE) return R.BadArgument;
      if (lookupBuffer(vm, type) === undefined) return R.NotFound;
      const data = mem.read(dataPtr, dataSize);
      if (type !== BufferType.HttpRequestBody && type !== BufferType.HttpResponseBody) {
        return lookupBuffer(vm, type) === undefined ? R.NotFound : R.BadArgument;
      }
      const slot = vm.effective()?.stream?.buffers[type];
      if (slot === undefined) return R.NotFound;
      const s = start >>> 0;
      const l = length >>> 0;
      if (s === 0) {
        const rest = slot.bytes.subarray(Math.min(l, slot.bytes.length));
        slot.bytes = concat(data, rest);
      } else if (s >= slot.bytes.length) {
        slot.bytes = concat(slot.bytes, data);
      } else return R.BadArgument;
      return R.Ok;
    },
    proxy_http_call(uriPtr: number, uriSize: number, headersPtr: number, headersSize: number, bodyPtr: number,
      bodySize: number, trailersPtr: number, trailersSize: number, timeoutMs: number, tokenPtr: number): number {
      const clusterName = mem.readString(uriPtr, uriSize);
      const headers = parsePairs(mem.read(headersPtr, headersSize));
      const body = mem.read(bodyPtr, bodySize);
      const trailers = parsePairs(mem.read(trailersPtr, trailersSize));
      mem.writeU32(tokenPtr, 0); // Envoy verifies the slot by writing 0 before starting anything
      if ((timeoutMs | 0) < 0) return R.BadArgument;
      const cluster = svc.clusters[clusterName];
      if (cluster === undefined) return R.BadArgument;
      const has = (name: string) => headers.some(([k]) => k === name);
      if (!has(':path') || !has(':method') || !has(':authority')) return R.BadArgument;
      const rootId = currentRootId();
      if (rootId === undefined) return R.BadArgument;
      const token = vm.nextHttpToken;
      vm.nextHttpToken += 4;
      const handle = svc.httpCall(cluster, headers, body, trailers, timeoutMs >>> 0,
        (outcome) => deliverHttpCall(token, rootId, outcome));
      vm.pendingHttp.set(token, { rootId, handle });
      mem.writeU32(tokenPtr, token);
      return R.Ok;
    },
    proxy_grpc_call: (): number => R.BadArgument,
    proxy_grpc_stream: (): number => R.BadArgument,
    // No gRPC call or stream is ever open (Envoy token classes: call ids ≡ 1, stream ids ≡ 2 mod 4).
    proxy_grpc_send: (token: number): number => ((token & 3) === 2 ? R.NotFound : R.BadArgument),
    proxy_grpc_cancel: (token: number): number => ((token & 3) === 1 || (token & 3) === 2 ? R.NotFound : R.BadArgument),
    proxy_grpc_close: (token: number): number => ((token & 3) === 1 || (token & 3) === 2 ? R.NotFound : R.BadArgument),
    proxy_set_tick_period_milliseconds(period: number): number {
      const rootId = currentRootId();
      if (rootId === undefined) return R.BadArgument;
      vm.ticks.get(rootId)?.cancel();
      vm.ticks.delete(rootId);
      const ms = period >>> 0;
      if (ms === 0) return R.Ok;
      const handle = svc.clock.schedule(ms, () => {
        const root = vm.contexts.get(rootId)?.root;
        if (vm.failed || root === undefined || root.deleted) {
          handle.cancel();
          return;
        }
        try {
          vm.call('proxy_on_tick', [rootId], { contextId: rootId });
        } catch (err) {
          if (!(err instanceof VmTrap)) throw err;
        }
      }, ms);
      vm.ticks.set(rootId, handle);
      return R.Ok;
    },
    proxy_get_current_time_nanoseconds(ptr: number): number {
      mem.writeU64(ptr, svc.clock.wallNs());
      return R.Ok;
    },
    proxy_define_metric(type: number, namePtr: number, nameSize: number, resultPtr: number): number {
      const name = mem.readString(namePtr, nameSize);
      const kind = METRIC_KINDS[type];
      if (kind === undefined) return R.BadArgument;
      mem.checkSlot(resultPtr, 4);
      const id = vm.nextMetricId[type]!;
      vm.nextMetricId[type] = id + 4;
      vm.metricIds.set(id, svc.metrics.stat(kind, name));
      mem.writeU32(resultPtr, id);
      return R.Ok;
    },
    proxy_increment_metric(id: number, delta: bigint): number {
      // Envoy decides by the id's type bits first: only counter and gauge ids can be incremented at all.
      if ((id & 3) > 1) return R.BadArgument;
      const stat = vm.metricIds.get(id >>> 0);
      if (stat === undefined) return R.NotFound;
      if (stat.kind === 'counter') {
        if (delta <= 0n) return R.BadArgument;
        stat.value += delta;
      } else if (stat.kind === 'gauge') stat.value += delta;
      else return R.BadArgument;
      return R.Ok;
    },
    proxy_record_metric(id: number, value: bigint): number {
      const stat = vm.metricIds.get(id >>> 0);
      if (stat === undefined) return R.NotFound;
      const v = BigInt.asUintN(64, value);
      if (stat.kind === 'counter') stat.value += v;
      else if (stat.kind === 'gauge') stat.value = v;
      else {
        stat.value += v;
        stat.count += 1;
      }
      return R.Ok;
    },
    proxy_get_metric(id: number, resultPtr: number): number {
      if ((id & 3) > 1) return R.BadArgument; // histogram ids (and type bits 3): Envoy has no value to return
      const stat = vm.metricIds.get(id >>> 0);
      if (stat === undefined) return R.NotFound;
      if (stat.kind === 'histogram') return R.BadArgument;
      mem.writeU64(resultPtr, stat.value);
      return R.Ok;
    },
    proxy_set_effective_context(contextId: number): number {
      const frame = vm.frame();
      if (frame === undefined || !vm.contexts.has(contextId >>> 0)) return R.BadArgument;
      frame.effectiveId = contextId >>> 0;
      return R.Ok;
    },
    proxy_done(): number {
      const ctx = vm.effective();
      const root = ctx?.root;
      if (ctx === undefined || root === undefined || !root.pendingDone) return R.NotFound;
      root.pendingDone = false;
      queueMicrotask(() => vm.finishRoot(ctx.id));
      return R.Ok;
    },
    proxy_call_foreign_function(namePtr: number, nameSize: number, argsPtr: number, argsSize: number): number {
      mem.read(namePtr, nameSize);
      mem.read(argsPtr, argsSize);
      return R.NotFound; // Envoy's foreign functions (compression, CEL…) are not provided
    },
    pthread_equal: (left: number, right: number): number => (left === right ? 1 : 0),
    emscripten_notify_memory_growth: (): number => 0, // void import: the value is ignored
    proxy_continue_stream(type: number): number {
      // Envoy: request/response continue (deferred until the VM call returns), downstream Ok, upstream Unimplemented.
      if (type >>> 0 > 3) return R.BadArgument;
      if (type === 3) return R.Unimplemented;
      const stream = vm.effective()?.stream;
      if (stream === undefined || type === 2) return R.Ok;
      stream.continued[type] = true;
      // Envoy drops its request header/trailer pointers at once (for either direction), so even the rest of this
      // callback can no longer read or change them.
      if (stream.logPhase !== true) {
        for (const map of [MapType.RequestHeaders, MapType.RequestTrailers]) {
          const slot = stream.maps[map];
          if (slot !== undefined) slot.access = 'none';
        }
      }
      signalStream(stream);
      return R.Ok;
    },
    proxy_close_stream(type: number): number {
      if (type >>> 0 > 3) return R.BadArgument;
      const stream = vm.effective()?.stream;
      if (stream === undefined || type > 1) return R.Ok;
      stream.closed = true;
      signalStream(stream);
      return R.Ok;
    },
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
