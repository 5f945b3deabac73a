// The HTTP messages the host builds around the filter, the way Envoy's codec, connection manager and router would:
// downstream request headers, the upstream request, local reply headers and the router's upstream-failure reply.
import type { DownstreamRequest, UpstreamRequest } from './api.js';
import type { FinalReply } from './filter-stream.js';
import type { HeaderPairs } from './pairs.js';

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);
const bytesOf = (v: Uint8Array | string | undefined): Uint8Array => (v === undefined ? EMPTY : typeof v === 'string' ? utf8.encode(v) : v);

/** Downstream request headers as Envoy's HTTP/1.1 codec and connection manager hand them to filters. */
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
    [':path', req.path],
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

export function strip(headers: HeaderPairs): HeaderPairs {
  return headers.filter(([k]) => !k.startsWith(':'));
}
