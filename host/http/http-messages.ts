// The HTTP messages the host builds around the filter, the way Envoy's codec, connection manager and router would:
// downstream request headers, the upstream request, local reply headers, the codec's and the router's own replies, and
// a response serialised for a raw socket.
import { STATUS_CODES } from 'node:http';
import type { DownstreamRequest, UpstreamRequest } from '../contract.js';
import type { FinalReply } from '../runtime/filter-stream.js';
import type { HeaderPairs } from '../abi/pairs.js';

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);
const bytesOf = (v: Uint8Array | string | undefined): Uint8Array => (v === undefined ? EMPTY : typeof v === 'string' ? utf8.encode(v) : v);

/**
 * Downstream request headers as Envoy's HTTP/1.1 codec and connection manager hand them to filters. An empty path
 * means no :path at all: Envoy's codec gives a CONNECT none (and refuses an empty :path on anything else).
 */
export function downstreamHeaders(req: DownstreamRequest, requestId: string): HeaderPairs {
  const given: HeaderPairs = Array.isArray(req.headers)
    ? req.headers.map(([k, v]) => [k.toLowerCase(), v])
    : Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]);
  const hostHeader = given.find(([k]) => k === 'host')?.[1];
  const rest = given.filter(([k]) => k !== 'host' && !k.startsWith(':'));
  const body = bytesOf(req.body);
  if (body.length > 0 && !rest.some(([k]) => k === 'content-length' || k === 'transfer-encoding')) {
    rest.push(['content-length', String(body.length)]);
  }
  if (!rest.some(([k]) => k === 'x-forwarded-proto')) rest.push(['x-forwarded-proto', req.scheme ?? 'http']);
  if (!rest.some(([k]) => k === 'x-request-id')) rest.push(['x-request-id', requestId]);
  return [
    [':authority', req.authority ?? hostHeader ?? 'localhost'],
    ...(req.path === '' ? [] : [[':path', req.path] as [string, string]]),
    [':method', req.method.toUpperCase()],
    [':scheme', req.scheme ?? 'http'],
    ...rest,
  ];
}

export function upstreamRequestOf(headers: HeaderPairs, body: Uint8Array): UpstreamRequest {
  const get = (name: string) => headers.find(([k]) => k === name)?.[1] ?? '';
  return {
    method: get(':method'),
    path: get(':path'),
    authority: get(':authority'),
    headers: headers.filter(([k]) => !k.startsWith(':')),
    body,
  };
}

/**
 * Envoy's local reply headers: :status, content-length (always Envoy's), content-type text/plain for a non-empty body
 * unless the guest set one, then the guest's headers.
 */
export function localReplyHeaders(reply: FinalReply): HeaderPairs {
  const guest = reply.headers.map(([k, v]) => [k.toLowerCase(), v] as [string, string]).filter(([k]) => k !== 'content-length');
  const out: HeaderPairs = [[':status', String(reply.status)], ['content-length', String(reply.body.length)]];
  if (reply.body.length > 0 && !guest.some(([k]) => k === 'content-type')) out.push(['content-type', 'text/plain']);
  return [...out, ...guest];
}

/** The router's local reply when the upstream cannot be reached; like any local reply it passes the encoder filters. */
export function upstreamFailureReply(reason: string): FinalReply {
  const body = new TextEncoder().encode(`upstream connect error or disconnect/reset before headers. reset reason: ${reason}`);
  return { status: 503, details: 'upstream_reset_before_response_started{connection_failure}', body, headers: [],
    grpcStatus: undefined, fromHost: false, duringDecode: true };
}

/** The router's local reply when no route matches (a CONNECT: route matchers need a path); it passes the filters. */
export function routeNotFoundReply(): FinalReply {
  return { status: 404, details: 'route_not_found', body: EMPTY, headers: [], grpcStatus: undefined, fromHost: false, duringDecode: true };
}

/** A reply made by the codec or the connection manager before the filter chain (the filter sees only create → log). */
export function codecReply(status: number, details: string, body: string): FinalReply {
  return { status, details, body: utf8.encode(body), headers: [], grpcStatus: undefined, fromHost: true, duringDecode: true };
}

/** A response as bytes, for sockets node's HTTP server no longer writes to (a refused parse, CONNECT). */
export function serializeResponse(status: number, headers: HeaderPairs, body: Uint8Array, close: boolean): Uint8Array {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`];
  for (const [k, v] of headers) if (!k.startsWith(':') && k !== 'connection') lines.push(`${k}: ${v}`);
  if (close) lines.push('connection: close');
  const head = utf8.encode(`${lines.join('\r\n')}\r\n\r\n`);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

export function strip(headers: HeaderPairs): HeaderPairs {
  return headers.filter(([k]) => !k.startsWith(':'));
}
