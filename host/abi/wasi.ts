// The WASI subset Envoy gives Proxy-Wasm modules (proxy-wasm-cpp-host exports.cc), with its quirks: stdout/stderr
// become log lines, most file operations are no-ops or errors, proc_exit returns instead of exiting.
import { randomFillSync } from 'node:crypto';
import type { GuestMemory } from './guest-memory.js';
import type { LogLevel } from '../contract.js';

export interface WasiEnvironment {
  memory: GuestMemory;
  env: Record<string, string>;
  log(level: LogLevel, message: string): void;
  wallNs(): bigint;
  monotonicNs(): bigint;
}

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_INVAL = 28;
const ERRNO_NOENT = 44;
const ERRNO_NOSYS = 52;
const ERRNO_NOTSUP = 58;

export type WasiFunctions = Record<string, (...args: never[]) => number | void>;

export function wasiFunctions(e: WasiEnvironment): WasiFunctions {
  const encoder = new TextEncoder();
  const environ = Object.entries(e.env).map(([k, v]) => encoder.encode(`${k}=${v}\0`));
  return {
    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let n = 0; n < iovsLen; n++) {
        const base = e.memory.readU32(iovs + n * 8);
        const len = e.memory.readU32(iovs + n * 8 + 4);
        parts.push(e.memory.read(base, len));
        total += len;
      }
      if (total > 0) {
        let message = Buffer.concat(parts).toString('utf8');
        if (message.endsWith('\n')) message = message.slice(0, -1);
        e.log(fd === 1 ? 'info' : 'error', message);
      }
      e.memory.writeU32(nwrittenPtr, total);
      return ERRNO_SUCCESS;
    },
    fd_read: (): number => ERRNO_NOSYS,
    // Envoy's Context::error logs these at trace level and carries on.
    fd_seek(): number {
      e.log('trace', 'wasi_unstable fd_seek');
      return ERRNO_SUCCESS;
    },
    fd_close(): number {
      e.log('trace', 'wasi_unstable fd_close');
      return ERRNO_SUCCESS;
    },
    fd_fdstat_get(fd: number, statPtr: number): number {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      // Envoy zeroes the 24-byte fdstat except fs_rights_base = FD_WRITE (64).
      const stat = new Uint8Array(24);
      stat[8] = 64;
      e.memory.write(statPtr, stat);
      return ERRNO_SUCCESS;
    },
    path_open: (): number => ERRNO_NOENT, // no file system
    fd_prestat_get: (): number => ERRNO_BADF,
    fd_prestat_dir_name: (): number => ERRNO_NOSYS,
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      e.memory.writeU32(countPtr, environ.length);
      e.memory.writeU32(sizePtr, environ.reduce((s, b) => s + b.length, 0));
      return ERRNO_SUCCESS;
    },
    environ_get(environPtr: number, bufPtr: number): number {
      let offset = bufPtr;
      environ.forEach((bytes, n) => {
        e.memory.writeU32(environPtr + n * 4, offset);
        e.memory.write(offset, bytes);
        offset += bytes.length;
      });
      return ERRNO_SUCCESS;
    },
    args_sizes_get(argcPtr: number, sizePtr: number): number {
      e.memory.writeU32(argcPtr, 0);
      e.memory.writeU32(sizePtr, 0);
      return ERRNO_SUCCESS;
    },
    args_get: (): number => ERRNO_SUCCESS,
    clock_time_get(id: number, _precision: bigint, timePtr: number): number {
      if (id === 0) e.memory.writeU64(timePtr, e.wallNs());
      else if (id === 1) e.memory.writeU64(timePtr, e.monotonicNs());
      else return ERRNO_NOTSUP;
      return ERRNO_SUCCESS;
    },
    random_get(buf: number, len: number): number {
      if (len >>> 0 > 65536) return ERRNO_INVAL;
      if (len === 0) return ERRNO_SUCCESS; // nothing written, the pointer is not checked
      const bytes = new Uint8Array(len >>> 0);
      randomFillSync(bytes);
      e.memory.write(buf, bytes);
      return ERRNO_SUCCESS;
    },
    proc_exit(): void {
      // Envoy only logs (Context::error, at trace level): the VM keeps running, the guest's caller decides what
      // happens next.
      e.log('trace', 'wasi_unstable proc_exit');
    },
  };
}
