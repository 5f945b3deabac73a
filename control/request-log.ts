// What a request log line says about the request: fastify's default req serializer with the query string removed.
// Clients put credentials in queries (`?api_key=…`, `?token=…`) and logs travel further than the service (files,
// collectors, support tickets), so the log keeps only the path: no values, and no parameter names either, since a
// bare `?<token>` makes the token itself a name.

// A type alias, not an interface: fastify's serializer type wants an index signature.
export type LoggedRequest = {
  method?: string;
  url?: string;
  host?: string;
  remoteAddress?: string;
  remotePort?: number;
};

/** Fastify passes its request (with `ip` and `host`); its types say the raw IncomingMessage, so all are optional. */
interface RequestLike {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number } | null;
}

/** The request URL without its query string or fragment. */
export function pathOnly(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}

/** pino serializer for `req` (fastify passes its request object). */
export function requestLogView(req: RequestLike): LoggedRequest {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : pathOnly(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
