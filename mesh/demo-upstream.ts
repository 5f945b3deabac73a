// The demo service behind the sidecar: answers every request with what it received (method, path, headers), so
// a curl through the proxy shows what the filter did — identity headers added, the API key removed.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoBody {
  service: 'tollgate-demo-upstream';
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  bodyBytes: number;
}

export function echoOf(req: IncomingMessage, bodyBytes: number): EchoBody {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = value;
  return { service: 'tollgate-demo-upstream', method: req.method ?? '', path: req.url ?? '', headers, bodyBytes };
}

export interface DemoUpstream {
  port: number;
  /** Requests answered so far. */
  served(): number;
  close(): Promise<void>;
}

export async function startDemoUpstream(opts: { port: number; address?: string }): Promise<DemoUpstream> {
  let served = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => { bodyBytes += chunk.length; });
    req.on('end', () => {
      served++;
      const body = JSON.stringify(echoOf(req, bodyBytes), null, 2);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65_000; // longer than any client's idle timeout, as proxies expect of upstreams
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    served: () => served,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
