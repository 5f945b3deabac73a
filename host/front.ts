// The HTTP front: a node:http HTTP/1.1 listener that runs every request through the plugin (like an Envoy inbound
// listener) and proxies it to one upstream, streaming bodies chunk by chunk through the body callbacks. Each
// downstream connection is pinned to one worker VM, round-robin, as Envoy pins connections to worker threads.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Host } from './api.js';
import { MAX_REQUEST_HEADERS_BYTES } from './downstream-limits.js';
import { EMPTY } from './filter-stream.js';
import type { HeaderPairs } from './pairs.js';
import type { Exchange } from './exchange.js';
import { upstreamFailureReply } from './http-messages.js';
import { PluginHost } from './plugin-host.js';

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

async function handle(host: PluginHost, worker: number, agent: http.Agent, upstream: FrontOptions['upstream'],
  req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const headers = endToEndHeaders(req.rawHeaders);
  const socket = req.socket;
  const exchange = await host.startStream({
    method: req.method ?? 'GET', path: req.url ?? '/', headers,
    source: `${socket.remoteAddress ?? '127.0.0.1'}:${socket.remotePort ?? 0}`,
    destination: `${socket.localAddress ?? '127.0.0.1'}:${socket.localPort ?? 0}`,
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
  let next = 0;
  const sockets = new Set<Socket>();
  // Node's own header limit (16 KiB) is raised above Envoy's 60 KiB so Envoy's rule decides (downstream-limits.ts).
  const server = http.createServer({ keepAlive: true, maxHeaderSize: 2 * MAX_REQUEST_HEADERS_BYTES }, (req, res) => {
    const worker = workerOf.get(req.socket) ?? 0;
    handle(host, worker, agent, opts.upstream, req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`front error: ${(err as Error).message}`);
      } else res.destroy();
    });
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
