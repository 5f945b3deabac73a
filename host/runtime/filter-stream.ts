// One HTTP stream through the plugin on one VM, the way Envoy's Wasm filter drives it: create at the first header
// callback, header/body/trailer callbacks per direction with Envoy's status mapping (header Stop → StopAll until
// continue_stream), local replies that override the callback's return and go out after the VM call returns, and
// log → done → delete at the end. A trap applies the plugin's fail strategy to this stream.
import type { FailStrategy } from '../contract.js';
import type { HeaderPairs } from '../abi/pairs.js';
import { StreamState, type LocalReply, type RequestInfo } from './stream-state.js';
import { VmTrap, type Vm } from './vm.js';

export interface FinalReply extends LocalReply {
  /** True for replies made instead of the filter (wasm_fail_stream, codec 431): no response callbacks run. */
  fromHost: boolean;
  /** Sent from a request-side callback (it then still runs through the response callbacks). */
  duringDecode: boolean;
}

/** Envoy's default per_connection_buffer_limit_bytes: what a buffering filter may hold. */
export const BUFFER_LIMIT_BYTES = 1024 * 1024;
const utf8 = new TextEncoder();

const REQUEST = 0;
const RESPONSE = 1;

/** Envoy: header status 0 and 2 continue; 1, 3, 4 (and above) stop all iteration until continue_stream. */
function headersContinue(status: number | undefined): boolean {
  return status === undefined || status === 0 || status === 2;
}

/** Envoy (convertVmCallResultToFilterDataStatus): a body status above 3 (or negative, read unsigned) is
 * StopIterationNoBuffer. */
function bodyStatus(status: number | undefined): number | undefined {
  return status === undefined || status >>> 0 <= 3 ? status : 3;
}

export const EMPTY: Uint8Array = new Uint8Array(0);

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function failStreamReply(duringDecode: boolean): FinalReply {
  return { status: 503, details: 'wasm_fail_stream', body: EMPTY, headers: [], grpcStatus: undefined, fromHost: true, duringDecode };
}

export class FilterStream {
  id = 0;
  readonly state: StreamState;
  bypass = false;
  reply: FinalReply | undefined;
  reset = false;
  requestHeadersRan = false;
  private requestHeadersStatus: number | undefined;
  /** Body data held by the host per direction (not yet forwarded) and whether the last body status buffered. */
  private readonly heldBody = [EMPTY, EMPTY];
  private readonly buffering = [false, false];
  private decoding = true;
  private completed = false;

  constructor(readonly vm: Vm, readonly rootId: number, info: RequestInfo, readonly failStrategy: FailStrategy,
    private readonly onTrap: (stream: FilterStream) => void) {
    this.state = new StreamState(info);
  }

  get ended(): boolean {
    return this.reply !== undefined || this.reset;
  }

  private create(): void {
    if (this.id !== 0) return;
    this.id = this.vm.nextContextId++;
    this.vm.contexts.set(this.id, { id: this.id, rootId: this.rootId, stream: this.state });
    this.invoke('proxy_on_context_create', [this.id, this.rootId]);
  }

  /** Downstream reset: ends the stream and releases anything waiting for continue_stream. */
  abort(): void {
    this.reset = true;
    this.state.signal();
  }

  /** Context creation without header callbacks (a request refused before the filter chain still gets on_log). */
  createForLog(): void {
    this.create();
  }

  private invoke(name: string, args: number[]): number | undefined {
    if (this.bypass || this.vm.failed) return undefined;
    let status: number | undefined;
    try {
      status = this.vm.call(name, args, { contextId: this.id });
    } catch (err) {
      if (!(err instanceof VmTrap)) throw err;
      this.vmFailed();
      return undefined;
    }
    this.takePendingReply();
    return status;
  }

  /** Applies the fail strategy when this stream's VM failed (in this stream's callback or elsewhere). */
  vmFailed(): void {
    if (this.bypass || this.reply?.fromHost === true) return;
    if (this.failStrategy === 'FAIL_OPEN') this.bypass = true;
    else this.reply = failStreamReply(this.decoding);
    this.onTrap(this);
    this.state.signal();
  }

  private takePendingReply(): void {
    const pending = this.state.pendingReply;
    if (pending !== undefined && this.reply === undefined) {
      this.reply = { ...pending, fromHost: false, duringDecode: this.decoding };
    }
    if (this.state.closed) this.reset = true;
  }

  private waitFor(direction: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        this.takePendingReply();
        if (this.ended || this.bypass || this.state.continued[direction] === true) {
          this.state.continued[direction] = false;
          off();
          resolve();
        }
      };
      const off = this.state.onSignal(check);
      check();
    });
  }

  /** The synchronous part of the request-header phase (the interleaving scheduler runs it ahead of time). */
  runRequestHeaders(headers: HeaderPairs, endOfStream: boolean): void {
    if (this.requestHeadersRan) return;
    this.requestHeadersRan = true;
    this.create();
    this.state.maps[0] = { pairs: headers, access: 'rw' };
    this.state.continued[REQUEST] = false;
    this.requestHeadersStatus = this.invoke('proxy_on_request_headers', [this.id, headers.length, endOfStream ? 1 : 0]);
  }

  /** Resolves with true when the headers may go upstream, false when the stream ended (local reply or reset). */
  async decodeHeaders(headers: HeaderPairs, endOfStream: boolean): Promise<boolean> {
    this.runRequestHeaders(headers, endOfStream);
    if (this.ended) return false; // Envoy keeps the header map pointer of a stopped callback (no continue happened)
    if (!headersContinue(this.requestHeadersStatus)) await this.waitFor(REQUEST);
    const slot = this.state.maps[0];
    if (slot !== undefined && !this.ended) slot.access = 'none';
    return !this.ended;
  }

  /**
   * One body chunk through a body callback, with Envoy's statuses: Continue forwards what is held plus this chunk;
   * StopIterationAndBuffer holds it and the next callback sees the whole buffered body; StopIterationAndWatermark
   * holds it but the next callback sees only its own chunk; StopIterationNoBuffer drops the chunk. At end of stream a
   * stop waits for continue_stream; a continue_stream that arrived earlier releases what is held with the next chunk.
   */
  private async data(direction: number, chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array | null> {
    if (this.ended) return null;
    const trailersMap = direction === REQUEST ? 1 : 3;
    if (direction === REQUEST) this.state.requestBodySize += chunk.length;
    if (this.bypass || this.vm.failed) return concatBytes(this.takeHeld(direction), chunk);
    let released = EMPTY;
    if (this.state.continued[direction] === true) released = this.takeHeld(direction);
    const buffering = this.buffering[direction] === true;
    if (buffering && direction === REQUEST && this.heldBody[direction]!.length + chunk.length > BUFFER_LIMIT_BYTES) {
      // The filter manager's buffer limit: 413 before the VM sees the chunk (it passes the encoder callbacks).
      this.reply = { status: 413, details: 'request_payload_too_large', body: utf8.encode('Payload Too Large'), headers: [],
        grpcStatus: undefined, fromHost: false, duringDecode: true };
      this.takeHeld(direction);
      return null;
    }
    const held = buffering ? EMPTY : this.takeHeld(direction);
    const exposed = buffering ? concatBytes(this.takeHeld(direction), chunk) : chunk;
    this.state.buffers[direction] = { bytes: exposed };
    if (endOfStream && this.state.maps[trailersMap] === undefined) this.state.maps[trailersMap] = { pairs: [], access: 'rw' };
    this.state.continued[direction] = false;
    const callback = direction === REQUEST ? 'proxy_on_request_body' : 'proxy_on_response_body';
    const status = bodyStatus(this.invoke(callback, [this.id, exposed.length, endOfStream ? 1 : 0]));
    const after = this.state.buffers[direction]?.bytes ?? exposed;
    this.state.buffers[direction] = undefined;
    const trailers = this.state.maps[trailersMap];
    if (trailers !== undefined) trailers.access = 'none';
    if (this.ended) return null;
    this.buffering[direction] = status === 1;
    if (status === undefined || status === 0) return concatBytes(released, concatBytes(held, after));
    this.heldBody[direction] = status === 3 ? held : concatBytes(held, after);
    if (!endOfStream) return released;
    await this.waitFor(direction);
    if (this.ended) return null;
    return concatBytes(released, this.takeHeld(direction));
  }

  private takeHeld(direction: number): Uint8Array {
    const held = this.heldBody[direction] ?? EMPTY;
    this.heldBody[direction] = EMPTY;
    this.buffering[direction] = false;
    return held;
  }

  /** Body chunk through the filter; returns what goes on (possibly empty while buffering), null when ended. */
  decodeData(chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array | null> {
    return this.data(REQUEST, chunk, endOfStream);
  }

  private async trailers(direction: number, trailers: HeaderPairs): Promise<HeaderPairs | null> {
    if (this.ended) return null;
    const map = direction === REQUEST ? 1 : 3;
    if (this.bypass || this.vm.failed) return trailers;
    this.state.maps[map] = { pairs: trailers, access: 'rw' };
    this.state.continued[direction] = false;
    const callback = direction === REQUEST ? 'proxy_on_request_trailers' : 'proxy_on_response_trailers';
    const status = this.invoke(callback, [this.id, trailers.length]);
    if (!this.ended && status !== undefined && status !== 0) await this.waitFor(direction);
    const slot = this.state.maps[map]!;
    slot.access = 'none';
    return this.ended ? null : slot.pairs;
  }

  decodeTrailers(trailers: HeaderPairs): Promise<HeaderPairs | null> {
    return this.trailers(REQUEST, trailers);
  }

  /** Response headers (including :status) through the filter; false when the stream ended. */
  async encodeHeaders(headers: HeaderPairs, endOfStream: boolean): Promise<boolean> {
    this.decoding = false;
    if (this.ended && this.reply?.duringDecode !== true) return false;
    this.state.responseCode = Number(headers.find(([k]) => k === ':status')?.[1] ?? 0);
    this.state.maps[2] = { pairs: headers, access: 'rw' };
    if (this.bypass || this.vm.failed) return true;
    this.state.continued[RESPONSE] = false;
    const replyBefore = this.reply;
    const status = this.invoke('proxy_on_response_headers', [this.id, headers.length, endOfStream ? 1 : 0]);
    if (this.reply !== replyBefore && replyBefore !== undefined) this.reply = replyBefore; // no reply to a reply
    if (this.reply === replyBefore && !this.reset && !headersContinue(status)) await this.waitFor(RESPONSE);
    this.state.maps[2].access = 'none';
    return this.reply === replyBefore && !this.reset;
  }

  encodeData(chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array | null> {
    if (this.reply?.duringDecode === true && this.reply.fromHost === false) return this.replyData(chunk, endOfStream);
    return this.data(RESPONSE, chunk, endOfStream);
  }

  /** A local reply's body still passes the sender's response-body callback (Envoy runs it through the encoders). */
  private async replyData(chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array | null> {
    const reply = this.reply;
    this.reply = undefined;
    const out = await this.data(RESPONSE, chunk, endOfStream);
    if (this.reply === undefined) this.reply = reply;
    return out ?? chunk;
  }

  encodeTrailers(trailers: HeaderPairs): Promise<HeaderPairs | null> {
    return this.trailers(RESPONSE, trailers);
  }

  /** log → done → delete (Envoy order; on_done's return is ignored for streams). */
  complete(details: string | undefined): void {
    if (this.completed) return;
    this.completed = true;
    this.state.responseDetails = details;
    if (this.id === 0 || this.bypass || this.vm.failed) {
      this.vm.contexts.delete(this.id);
      return;
    }
    for (const slot of this.state.maps) if (slot !== undefined) slot.access = 'ro';
    this.state.logPhase = true;
    this.invoke('proxy_on_log', [this.id]);
    this.state.logPhase = false;
    this.invoke('proxy_on_done', [this.id]);
    this.invoke('proxy_on_delete', [this.id]);
    this.vm.contexts.delete(this.id);
  }
}
