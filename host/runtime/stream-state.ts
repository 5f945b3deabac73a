// What a stream context exposes to host functions: its header maps (with Envoy's availability rules), the body
// buffer of the running body callback, pending local reply and continue requests, and per-stream request info.
import type { HeaderPairs } from '../abi/pairs.js';

export type MapAccess = 'none' | 'ro' | 'rw';

export interface HeaderMapSlot {
  pairs: HeaderPairs;
  access: MapAccess;
}

export interface LocalReply {
  status: number;
  details: string;
  body: Uint8Array;
  headers: HeaderPairs;
  grpcStatus: number | undefined;
}

export interface RequestInfo {
  id: string;
  source: string;
  destination: string;
  startMs: number;
  protocol: string;
  scheme: string;
  originalPath: string;
  originalMethod: string;
  originalAuthority: string;
}

export class StreamState {
  /** Maps 0–3 (request headers, request trailers, response headers, response trailers). */
  readonly maps: Array<HeaderMapSlot | undefined> = [undefined, undefined, undefined, undefined];
  /** Body buffer per direction (0 request, 1 response), present only while its body callback runs. */
  readonly buffers: Array<{ bytes: Uint8Array } | undefined> = [undefined, undefined];
  pendingReply: LocalReply | undefined;
  /** continue_stream requests per direction (0 request, 1 response) not yet consumed. */
  readonly continued = [false, false];
  closed = false;
  /** True while on_log runs (Envoy's access-log phase: read-only maps, missing ones read as NotFound). */
  logPhase = false;
  responseCode: number | undefined;
  responseDetails: string | undefined;
  requestBodySize = 0;
  readonly hostCalls: Record<string, number> = {};
  /** Filter state written by set_property, keyed "wasm.<raw path>" as in Envoy. */
  readonly filterState = new Map<string, Uint8Array>();
  private readonly listeners = new Set<() => void>();

  constructor(readonly info: RequestInfo) {}

  /** Called (asynchronously, i.e. after the VM call returns) when continue/reply/close may unblock the stream. */
  onSignal(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  signal(): void {
    queueMicrotask(() => {
      for (const l of [...this.listeners]) l();
    });
  }

  countCall(name: string): void {
    this.hostCalls[name] = (this.hostCalls[name] ?? 0) + 1;
  }
}

export interface RootState {
  generation: number;
  pendingDone: boolean;
  deleted: boolean;
}

export interface ContextRecord {
  id: number;
  rootId: number; // own id for a root context
  root?: RootState;
  stream?: StreamState;
}
