// The HTTP/1.1 codec's request-header limits (Envoy defaults: max_headers_count 100, max_request_headers_kb 60).
// A request over them is answered 431 by the connection manager before any filter sees its headers.
import type { HeaderPairs } from '../abi/pairs.js';

export const MAX_HEADERS_COUNT = 100;
export const MAX_REQUEST_HEADERS_BYTES = 60 * 1024;

/** The response-code details Envoy uses when the request headers break a limit, or undefined when they fit. */
export function headerLimitViolation(headers: HeaderPairs): string | undefined {
  if (headers.filter(([k]) => !k.startsWith(':')).length > MAX_HEADERS_COUNT) return 'http1.too_many_headers';
  const bytes = headers.reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (bytes > MAX_REQUEST_HEADERS_BYTES) return 'http1.headers_too_large';
  return undefined;
}
