// Shared helpers for the host conformance tests: fixture loading and a small driver for probe.wat, which re-exports
// every host function as t_<name> so a test can call it, from inside a real callback frame, through the real
// wasm → host boundary.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostOptions, LogRecord, PluginSpec } from '../../host/index.js';
import { PluginHost } from '../../host/runtime/plugin-host.js';
import type { Vm } from '../../host/runtime/vm.js';

const root = new URL('../..', import.meta.url).pathname;

export function fixture(name: string): Uint8Array {
  return readFileSync(join(root, 'build', 'fixtures', name));
}

export function spec(wasmName: string, extra: Partial<PluginSpec> = {}): PluginSpec {
  return { name: 'test.plugin', rootId: 'root', vmId: 'vm1', wasm: fixture(wasmName), pluginConfig: '{}', ...extra };
}

export interface TestHost {
  host: PluginHost;
  logs: LogRecord[];
}

export function newHost(options: HostOptions = {}): TestHost {
  const logs: LogRecord[] = [];
  const host = new PluginHost({ onLog: (r) => logs.push(r), ...options });
  return { host, logs };
}

export const utf8 = new TextEncoder();
export const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Encodes pairs in Envoy's format (a test-side copy, so the host's serializer is not tested against itself). */
export function encodePairs(pairs: Array<[string, string]>): Uint8Array {
  const parts: number[] = [];
  const u32 = (n: number) => parts.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  u32(pairs.length);
  const enc = pairs.map(([k, v]) => [utf8.encode(k), utf8.encode(v)] as const);
  for (const [k, v] of enc) {
    u32(k.length);
    u32(v.length);
  }
  for (const [k, v] of enc) parts.push(...k, 0, ...v, 0);
  return new Uint8Array(parts);
}

/** Drives probe.wat inside a callback frame. Scratch memory lives at 8 KiB..64 KiB (the guest heap starts at 128 KiB). */
export class Probe {
  private next = 8192;
  constructor(readonly vm: Vm) {}

  call(name: string, ...args: Array<number | bigint>): number {
    const f = this.vm.fn(`t_${name}`);
    if (f === undefined) throw new Error(`probe has no t_${name}`);
    return Number(f(...args));
  }

  export(name: string): number {
    return Number(this.vm.fn(name)!());
  }

  alloc(size: number): number {
    const p = this.next;
    this.next += (size + 7) & ~7;
    if (this.next > 65536) throw new Error('probe scratch exhausted');
    return p;
  }

  put(data: Uint8Array | string): [number, number] {
    const bytes = typeof data === 'string' ? utf8.encode(data) : data;
    const p = this.alloc(Math.max(bytes.length, 1));
    this.vm.memory.write(p, bytes);
    return [p, bytes.length];
  }

  u32(ptr: number): number {
    return this.vm.memory.readU32(ptr);
  }

  u64(ptr: number): bigint {
    const lo = BigInt(this.vm.memory.readU32(ptr));
    const hi = BigInt(this.vm.memory.readU32(ptr + 4));
    return (hi << 32n) | lo;
  }

  /** Two out-slots (ptr, size) for host calls that return data. */
  outSlots(): [number, number] {
    const p = this.alloc(8);
    this.vm.memory.write(p, new Uint8Array(8));
    return [p, p + 4];
  }

  readOut([ptrPtr, sizePtr]: [number, number]): Uint8Array {
    const ptr = this.u32(ptrPtr);
    const size = this.u32(sizePtr);
    return size === 0 ? new Uint8Array(0) : this.vm.memory.read(ptr, size);
  }

  /** Calls a data-returning host function whose trailing two arguments are the out-slots. */
  get(name: string, ...args: number[]): { result: number; data: Uint8Array } {
    const slots = this.outSlots();
    const result = this.call(name, ...args, ...slots);
    return { result, data: result === 0 ? this.readOut(slots) : new Uint8Array(0) };
  }

  getHeader(map: number, key: string): { result: number; value: string } {
    const [kp, kl] = this.put(key);
    const { result, data } = this.get('get_header_map_value', map, kp, kl);
    return { result, value: text(data) };
  }

  pairs(map: number): { result: number; pairs: Array<[string, string]> } {
    const { result, data } = this.get('get_header_map_pairs', map);
    return { result, pairs: result === 0 ? decodePairs(data) : [] };
  }

  property(path: string[]): { result: number; data: Uint8Array } {
    const [p, l] = this.put(path.join('\0'));
    return this.get('get_property', p, l);
  }

  log(level: number, message: string): number {
    const [p, l] = this.put(message);
    return this.call('log', level, p, l);
  }
}

export function decodePairs(bytes: Uint8Array): Array<[string, string]> {
  if (bytes.length === 0) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  let off = 4 + n * 8;
  const out: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) {
    const kl = view.getUint32(4 + i * 8, true);
    const vl = view.getUint32(8 + i * 8, true);
    const k = text(bytes.subarray(off, off + kl));
    off += kl + 1;
    const v = text(bytes.subarray(off, off + vl));
    off += vl + 1;
    out.push([k, v]);
  }
  return out;
}

export type Script = (probe: Probe, args: number[], vm: Vm) => void;

/** Loads probe.wat and routes callbacks to per-callback scripts; records every callback as "vm:name(args)". */
export async function probeHost(options: HostOptions = {}, extra: Partial<PluginSpec> = {}, initial: Record<string, Script> = {}) {
  const t = newHost(options);
  const scripts = new Map<string, Script>(Object.entries(initial));
  const calls: string[] = [];
  t.host.setCallbackProbe((vm, name, args) => {
    calls.push(`${vm.label}:${name}(${args.join(',')})`);
    scripts.get(name)?.(new Probe(vm), args, vm);
  });
  await t.host.load(spec('probe.wasm', extra));
  return {
    ...t,
    calls,
    on(name: string, script: Script | undefined) {
      if (script === undefined) scripts.delete(name);
      else scripts.set(name, script);
    },
    probe(vm: Vm) {
      return new Probe(vm);
    },
  };
}
