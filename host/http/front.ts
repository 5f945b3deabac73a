// The HTTP front: a node:http HTTP/1.1 listener that runs every request through the plugin (like an Envoy inbound
// listener) and proxies it to one upstream, streaming bodies chunk by chunk through the body callbacks. Each
// downstream connection is pinned to one worker VM, round-robin, as Envoy pins connections to worker threads. Request
// targets are read as Envoy's codec reads them (request-target.ts): what Envoy refuses before its filter chain is
// refused here too, with Envoy's status, and the filter only sees what Envoy would hand it.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Host } from '../contract.js';
import { MAX_REQUEST_HEADERS_BYTES } from './downstream-limits.js';
import { EMPTY } from '../runtime/filter-stream.js';
import type { HeaderPairs } from '../abi/pairs.js';
import type { Exchange } from './exchange.js';
import type { FinalReply } from '../runtime/filter-stream.js';
import { codecReply, routeNotFoundReply, serializeResponse, upstreamFailureReply } from './http-messages.js';
import { PluginHost } from '../runtime/plugin-host.js';
import { checkRequest, parseErrorRefusal, requestLineOf, type Refusal, type RequestLine } from './request-target.js';

export interface FrontOptions {
  port: number;
  address?: string;
  upstream: { host: string; port: number };
}

export interface Front {
  port: number;
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) are connection-scoped: a proxy neither forwards nor shows them to filters. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

export function endToEndHeaders(raw: string[]): HeaderPairs {
  const pairs: HeaderPairs = [];
  for (let n = 0; n + 1 < raw.length; n += 2) pairs.push([raw[n]!.toLowerCase(), raw[n + 1]!]);
  const named = new Set(pairs.filter(([k]) => k === 'connection').flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase())));
  return pairs.filter(([k]) => !HOP_BY_HOP.has(k) && !named.has(k));
}

function toOutgoing(pairs: HeaderPairs): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    if (k.startsWith(':') || HOP_BY_HOP.has(k)) continue;
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

async function sendLocal(exchange: Exchange, res: http.ServerResponse): Promise<void> {
  if (exchange.wasReset) {
    exchange.end('wasm_close_stream');
    res.destroy();
    return;
  }
  const result = await exchange.replyResult(exchange.reply!);
  res.writeHead(result.status, toOutgoing(result.headers));
  res.end(Buffer.from(result.body));
}

function upstreamResponse(req: http.ClientRequest): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
}

/** The request line as node parsed it (node reports a missing version, HTTP/0.9, as "0.9"). */
function lineOf(req: http.IncomingMessage): RequestLine {
  return { method: req.method ?? '', target: req.url ?? '', version: req.httpVersion === '0.9' ? '' : `HTTP/${req.httpVersion}` };
}

function addresses(socket: Socket): { source: string; destination: string } {
  return {
    source: `${socket.remoteAddress ?? '127.0.0.1'}:${socket.remotePort ?? 0}`,
    destination: `${socket.localAddress ?? '127.0.0.1'}:${socket.localPort ?? 0}`,
  };
}

/**
 * A request Envoy answers before its filter chain: the filter gets create → log → done → delete only (Envoy creates
 * the chain for access logging), and the reply is what the client receives.
 */
async function refusedExchange(host: PluginHost, worker: number, req: { method: string; path: string; headers: HeaderPairs },
  socket: Socket, refusal: Refusal): Promise<{ exchange: Exchange; reply: FinalReply }> {
  const exchange = await host.startStream({ ...req, ...addresses(socket) }, worker, true,
    codecReply(refusal.status, refusal.details, refusal.body));
  await exchange.requestHeaders(true);
  return { exchange, reply: exchange.reply! };
}

async function handle(host: PluginHost, worker: number, agent: http.Agent, upstream: FrontOptions['upstream'],
  req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const headers = endToEndHeaders(req.rawHeaders);
  const socket = req.socket;
  const verdict = checkRequest(lineOf(req), req.headers.host);
  if ('refused' in verdict) {
    req.resume();
    const { exchange, reply } = await refusedExchange(host, worker, { method: req.method ?? '', path: req.url ?? '', headers }, socket, verdict.refused);
    const result = await exchange.replyResult(reply);
    const out = toOutgoing(result.headers);
    if (verdict.refused.closeConnection) out.connection = 'close';
    res.writeHead(result.status, out);
    res.end(Buffer.from(result.body));
    exchange.end(reply.details);
    return;
  }
  const { path, authority, scheme } = verdict.target;
  // An https absolute-form target sets :scheme only; x-forwarded-proto still tells the (plaintext) connection's.
  if (scheme !== undefined && !headers.some(([k]) => k === 'x-forwarded-proto')) headers.push(['x-forwarded-proto', 'http']);
  const exchange = await host.startStream({
    method: req.method ?? 'GET', path: path ?? '', headers, ...addresses(socket),
    ...(authority !== undefined ? { authority } : {}), ...(scheme !== undefined ? { scheme } : {}),
  }, worker, true);
  // A client that goes away resets the stream, releasing a paused filter (Envoy: downstream reset → onDestroy).
  res.on('close', () => {
    if (!res.writableFinished) exchange.abort();
  });
  try {
    await proxy(exchange, agent, upstream, req, res);
  } finally {
    // Whatever happened (client gone, upstream error, a throw), the stream ends: log → done → delete. No-op if done.
    exchange.end(exchange.reply?.details ?? 'downstream_remote_disconnect');
  }
}

/**
 * CONNECT (node hands it over with the raw socket). Envoy's codec takes host:port as Host and gives no :path; without
 * a CONNECT upgrade configured the filters still see the request, then no route matches (route matchers need a path)
 * and the router answers 404. The tunnel never opens; the connection is closed.
 */
async function handleConnect(host: PluginHost, worker: number, req: http.IncomingMessage, socket: Socket): Promise<void> {
  const headers = endToEndHeaders(req.rawHeaders);
  const verdict = checkRequest(lineOf(req), req.headers.host);
  let exchange: Exchange;
  let reply: FinalReply;
  if ('refused' in verdict) {
    ({ exchange, reply } = await refusedExchange(host, worker, { method: req.method ?? '', path: req.url ?? '', headers }, socket, verdict.refused));
  } else {
    exchange = await host.startStream({ method: 'CONNECT', path: '', authority: verdict.target.authority!, headers, ...addresses(socket) }, worker, true);
    socket.on('close', () => exchange.abort());
    // The codec treats what follows CONNECT's headers as tunnel payload: the headers are not end of stream.
    const forwarded = await exchange.requestHeaders(false);
    if (exchange.wasReset) {
      exchange.end('wasm_close_stream');
      socket.destroy();
      return;
    }
    reply = forwarded ? routeNotFoundReply() : exchange.reply!;
  }
  const result = await exchange.replyResult(reply);
  socket.end(serializeResponse(result.status, result.headers, result.body, true));
  exchange.end(reply.details);
}

/** A request node's parser refused: Envoy's codec refuses it too, answering as request-target.ts says. */
async function handleParseError(host: PluginHost, worker: number, code: string, raw: Buffer, socket: Socket): Promise<void> {
  const text = raw.toString('latin1');
  const refusal = parseErrorRefusal(code, text);
  const line = requestLineOf(text);
  const { exchange, reply } = await refusedExchange(host, worker, { method: line?.method ?? '', path: line?.target ?? '', headers: [] }, socket, refusal);
  const result = await exchange.replyResult(reply);
  socket.end(serializeResponse(result.status, result.headers, result.body, true));
  exchange.end(reply.details);
}

async function proxy(exchange: Exchange, agent: http.Agent, upstream: FrontOptions['upstream'], req: http.IncomingMessage,
  res: http.ServerResponse): Promise<void> {
  const bodyless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined ||
    req.headers['content-length'] === '0';
  if (!(await exchange.requestHeaders(bodyless))) {
    req.resume();
    await sendLocal(exchange, res);
    return;
  }
  const fwd = exchange.headers;
  const get = (name: string) => fwd.find(([k]) => k === name)?.[1] ?? '';
  const outgoing = toOutgoing(fwd);
  outgoing.host = get(':authority');
  const upstreamReq = http.request({ host: upstream.host, port: upstream.port, method: get(':method'), path: get(':path'), headers: outgoing, agent });
  const responded = upstreamResponse(upstreamReq);
  responded.catch(() => undefined);
  if (!bodyless) {
    let ended = false;
    for await (const chunk of req) {
      // After a reply the rest of the body is read and dropped (breaking the loop would destroy the socket
      // before the reply is written).
      if (ended) continue;
      const out = await exchange.decodeChunk(new Uint8Array(chunk as Buffer), false);
      if (out === null) ended = true;
      else if (out.length > 0) upstreamReq.write(out);
    }
    const last = exchange.reply === undefined && !exchange.wasReset ? await exchange.decodeChunk(EMPTY, true) : null;
    if (last === null) {
      upstreamReq.destroy();
      await sendLocal(exchange, res);
      return;
    }
    if (last.length > 0) upstreamReq.write(last);
  }
  upstreamReq.end();
  let upstreamRes: http.IncomingMessage;
  try {
    upstreamRes = await responded;
  } catch (err) {
    const result = await exchange.replyResult(upstreamFailureReply((err as Error).message));
    res.writeHead(result.status, toOutgoing(result.headers));
    res.end(Buffer.from(result.body));
    return;
  }
  const responseHeaders: HeaderPairs = [[':status', String(upstreamRes.statusCode ?? 502)], ...endToEndHeaders(upstreamRes.rawHeaders)];
  const noBody = upstreamRes.headers['content-length'] === '0' || req.method === 'HEAD' || upstreamRes.statusCode === 204 || upstreamRes.statusCode === 304;
  if ((await exchange.responseHeaders(responseHeaders, noBody)) === 'ended') {
    upstreamRes.resume();
    await sendLocal(exchange, res);
    return;
  }
  const finalHeaders = exchange.responseHeadersOut(responseHeaders);
  const status = Number(finalHeaders.find(([k]) => k === ':status')?.[1] ?? upstreamRes.statusCode);
  res.writeHead(status, toOutgoing(finalHeaders));
  if (!noBody) {
    for await (const chunk of upstreamRes) {
      const out = await exchange.encodeChunk(new Uint8Array(chunk as Buffer), false);
      if (out === null) break;
      if (out.length > 0) res.write(out);
    }
    const last = await exchange.encodeChunk(EMPTY, true);
    if (last !== null && last.length > 0) res.write(last);
  } else upstreamRes.resume();
  if (exchange.wasReset) {
    exchange.end('wasm_close_stream');
    res.destroy();
    return;
  }
  res.end();
  // A reply sent after the response headers went out cannot replace them; Envoy resets the stream then.
  exchange.end(exchange.reply?.details ?? 'via_upstream');
}

export async function startFront(host: Host, opts: FrontOptions): Promise<Front> {
  if (!(host instanceof PluginHost)) throw new TypeError('startFront needs a host made by createHost');
  const agent = new http.Agent({ keepAlive: true });
  const workerOf = new WeakMap<Socket, number>();
  /** Responses in progress per connection (a parse error is answered only on an idle one). */
  const busy = new WeakMap<Socket, number>();
  let next = 0;
  const sockets = new Set<Socket>();
  // Node's own header limit (16 KiB) is raised above Envoy's 60 KiB so Envoy's rule decides (downstream-limits.ts).
  // A missing Host is Envoy's to refuse (request-target.ts), not node's.
  const server = http.createServer({ keepAlive: true, maxHeaderSize: 2 * MAX_REQUEST_HEADERS_BYTES, requireHostHeader: false }, (req, res) => {
    const worker = workerOf.get(req.socket) ?? 0;
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once('close', () => busy.set(socket, (busy.get(socket) ?? 1) - 1));
    handle(host, worker, agent, opts.upstream, req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`front error: ${(err as Error).message}`);
      } else res.destroy();
    });
  });
  server.on('connect', (req: http.IncomingMessage, socket: Socket) => {
    handleConnect(host, workerOf.get(socket) ?? 0, req, socket).catch(() => socket.destroy());
  });
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    // Only a parse error gets an answer, and only when no response of this connection is being written (Node's own
    // rule too: raw bytes must not interleave with a response in progress).
    if (err.code?.startsWith('HPE_') !== true || !socket.writable || (busy.get(socket) ?? 0) > 0) {
      socket.destroy();
      return;
    }
    handleParseError(host, workerOf.get(socket) ?? 0, err.code, err.rawPacket ?? Buffer.alloc(0), socket).catch(() => socket.destroy());
  });
  server.on('connection', (socket: Socket) => {
    workerOf.set(socket, next++ % host.workers);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      server.close(() => resolve());
    }),
  };
}
