// One request's path downstream ↔ filter ↔ upstream, shared by request()/openStream() (whole bodies) and the HTTP
// front (chunks): runs the stream's phases in order, turns replies into what the client receives, and always ends the
// stream (log → done → delete).
import type { StreamResult, Upstream, UpstreamRequest, UpstreamResponse } from '../contract.js';
import { concatBytes, EMPTY, type FilterStream, type FinalReply } from '../runtime/filter-stream.js';
import { localReplyHeaders, strip, upstreamFailureReply, upstreamRequestOf } from './http-messages.js';
import type { Interleaver } from '../runtime/interleave.js';
import type { HeaderPairs } from '../abi/pairs.js';
import type { Vm } from '../runtime/vm.js';

/** What an exchange needs from its host. */
export interface ExchangeHost {
  interleaving(): Interleaver<Vm> | undefined;
  streamFinished(stream: FilterStream): void;
}

const utf8 = new TextEncoder();
const bytesOf = (v: Uint8Array | string | undefined): Uint8Array => (v === undefined ? EMPTY : typeof v === 'string' ? utf8.encode(v) : v);

/** The downstream ↔ filter ↔ upstream exchange of one request (used by request(), openStream() and the front). */
export class Exchange {
  private requestHeadersOk = false;
  private readonly finalHeaders: HeaderPairs;

  /** hostReply: a reply made before the filter runs (fail-closed VM, codec 431). */
  constructor(private readonly host: ExchangeHost, readonly stream: FilterStream | undefined, headers: HeaderPairs,
    readonly worker: number, private readonly hostReply: FinalReply | undefined) {
    this.finalHeaders = headers;
  }

  get reply(): FinalReply | undefined {
    return this.hostReply ?? this.stream?.reply;
  }

  get headers(): HeaderPairs {
    return this.finalHeaders;
  }

  /** Runs the request-header phase; false when the stream ended there (local reply, reset, fail-closed). */
  async requestHeaders(endOfStream: boolean): Promise<boolean> {
    const s = this.stream;
    if (this.hostReply !== undefined) {
      // The filter never sees the headers, yet Envoy's access-log hook creates its context: create → log → done → delete.
      s?.createForLog();
      return false;
    }
    if (s === undefined) {
      this.requestHeadersOk = true;
      return true;
    }
    const interleaver = this.host.interleaving();
    if (interleaver !== undefined) {
      const item = { vm: s.vm, run: () => s.runRequestHeaders(this.finalHeaders, endOfStream) };
      interleaver.enqueue(item);
      await new Promise((resolve) => setImmediate(resolve));
      interleaver.take(item);
    }
    this.requestHeadersOk = await s.decodeHeaders(this.finalHeaders, endOfStream);
    return this.requestHeadersOk;
  }

  /** Everything after the request headers, with whole bodies (request()/openStream()). */
  async finish(body: Uint8Array, trailers: HeaderPairs | undefined, upstream?: Upstream): Promise<StreamResult> {
    const s = this.stream;
    let forwardedBody = EMPTY;
    let upstreamRequest: UpstreamRequest | undefined;
    let response: UpstreamResponse | undefined;
    if (this.requestHeadersOk) {
      const hasTrailers = (trailers ?? []).length > 0;
      if (body.length > 0 || s === undefined) {
        const out = s === undefined ? body : await s.decodeData(body, !hasTrailers);
        if (out !== null) forwardedBody = concatBytes(forwardedBody, out);
      }
      let forwardedTrailers: HeaderPairs | null = hasTrailers ? trailers!.map(([k, v]) => [k.toLowerCase(), v]) : null;
      if (forwardedTrailers !== null && s !== undefined && !s.ended) forwardedTrailers = await s.decodeTrailers(forwardedTrailers);
      if (s === undefined || !s.ended) {
        upstreamRequest = upstreamRequestOf(this.finalHeaders, forwardedBody);
        if (forwardedTrailers !== null) upstreamRequest.trailers = forwardedTrailers;
        try {
          response = await (upstream ?? (() => ({ status: 200, headers: [] })))(upstreamRequest);
        } catch (err) {
          return this.replyResult(upstreamFailureReply((err as Error).message), upstreamRequest);
        }
      }
    }
    return this.respond(response, upstreamRequest);
  }

  private async respond(response: UpstreamResponse | undefined, upstreamRequest: UpstreamRequest | undefined): Promise<StreamResult> {
    const s = this.stream;
    const hostCalls = s?.state.hostCalls ?? {};
    const base = { worker: this.worker, hostCalls, ...(upstreamRequest ? { upstreamRequest } : {}) };
    try {
      if (s?.reset === true) return { status: 0, headers: [], body: EMPTY, localReply: false, details: 'wasm_close_stream', ...base };
      const reply = this.reply;
      if (reply !== undefined) return await this.sendReply(reply, base);
      const r = response!;
      const body = bytesOf(r.body);
      const headers: HeaderPairs = [[':status', String(r.status)], ...r.headers.map(([k, v]) => [k.toLowerCase(), v] as [string, string])];
      if (s === undefined) {
        const passed = (r.trailers ?? []).length > 0 ? { trailers: r.trailers!.map(([k, v]) => [k.toLowerCase(), v] as [string, string]) } : {};
        return { status: r.status, headers: strip(headers), body, localReply: false, ...base, ...passed };
      }
      const hasTrailers = (r.trailers ?? []).length > 0;
      const ok = await s.encodeHeaders(headers, body.length === 0 && !hasTrailers);
      if (!ok) return s.reset ? { status: 0, headers: [], body: EMPTY, localReply: false, details: 'wasm_close_stream', ...base } : await this.sendReply(s.reply!, base);
      let outBody = EMPTY;
      if (body.length > 0) {
        const out = await s.encodeData(body, !hasTrailers);
        if (out === null) return await this.sendReply(s.reply!, base);
        outBody = out;
      }
      let outTrailers: HeaderPairs | null = null;
      if (hasTrailers) {
        outTrailers = await s.encodeTrailers(r.trailers!.map(([k, v]) => [k.toLowerCase(), v]));
        if (outTrailers === null) {
          if (s.reset) return { status: 0, headers: [], body: EMPTY, localReply: false, details: 'wasm_close_stream', ...base };
          return await this.sendReply(s.reply!, base);
        }
      }
      const status = Number(s.state.maps[2]!.pairs.find(([k]) => k === ':status')?.[1] ?? r.status);
      s.complete('via_upstream');
      return { status, headers: strip(s.state.maps[2]!.pairs), body: outBody, localReply: false, ...base,
        ...(outTrailers !== null ? { trailers: outTrailers } : {}) };
    } finally {
      if (s !== undefined) {
        s.complete(s.reply?.details ?? (s.reset ? 'wasm_close_stream' : 'via_upstream'));
        this.host.streamFinished(s);
      }
    }
  }

  /** A body chunk through the request side (front): what goes upstream now, or null when the stream ended. */
  async decodeChunk(chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array | null> {
    const s = this.stream;
    if (s === undefined) return chunk;
    return s.decodeData(chunk, endOfStream);
  }

  /** Response headers (with :status) through the filter (front): 'continue', or 'ended' (reply or reset). */
  async responseHeaders(headers: HeaderPairs, endOfStream: boolean): Promise<'continue' | 'ended'> {
    const s = this.stream;
    if (s === undefined) return 'continue';
    return (await s.encodeHeaders(headers, endOfStream)) ? 'continue' : 'ended';
  }

  /** Response headers after the filter (front). */
  responseHeadersOut(fallback: HeaderPairs): HeaderPairs {
    return this.stream?.state.maps[2]?.pairs ?? fallback;
  }

  async encodeChunk(chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array | null> {
    const s = this.stream;
    if (s === undefined) return chunk;
    return s.encodeData(chunk, endOfStream);
  }

  /** The downstream went away: the stream is reset (front). */
  abort(): void {
    this.stream?.abort();
  }

  get wasReset(): boolean {
    return this.stream?.reset === true;
  }

  /** Ends the stream (log → done → delete) once the downstream response is complete (front). */
  end(details: string): void {
    const s = this.stream;
    if (s === undefined) return;
    s.complete(details);
    this.host.streamFinished(s);
  }

  /** The local reply as the client gets it, after the sender's response callbacks (front and request()). */
  async replyResult(reply: FinalReply, upstreamRequest?: UpstreamRequest): Promise<StreamResult> {
    const s = this.stream;
    try {
      return await this.sendReply(reply, { worker: this.worker, hostCalls: s?.state.hostCalls ?? {}, ...(upstreamRequest ? { upstreamRequest } : {}) });
    } finally {
      if (s !== undefined) this.host.streamFinished(s);
    }
  }

  private async sendReply(reply: FinalReply, base: Pick<StreamResult, 'worker' | 'hostCalls' | 'upstreamRequest'>): Promise<StreamResult> {
    const s = this.stream;
    let headers = localReplyHeaders(reply);
    let body = reply.body;
    if (s !== undefined && reply.duringDecode && !reply.fromHost) {
      // Envoy sends a decoder filter's local reply through the encoder filters, this filter included.
      await s.encodeHeaders(headers, body.length === 0);
      headers = s.state.maps[2]?.pairs ?? headers;
      if (body.length > 0) body = (await s.encodeData(body, true)) ?? body;
    }
    s?.complete(reply.details);
    return { status: reply.status, headers: strip(headers), body, localReply: true, details: reply.details, ...base };
  }
}
