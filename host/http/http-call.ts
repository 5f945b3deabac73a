// proxy_http_call transport: a real HTTP/1.1 request to a named cluster over node:http. Like Envoy's AsyncClient, a
// timeout becomes a synthesized 504 response and a connection failure/reset becomes a failure (no response).
import http from 'node:http';
import type { ClusterSpec } from '../contract.js';
import type { HostClock } from '../runtime/host-clock.js';
import type { HeaderPairs } from '../abi/pairs.js';

export type HttpCallOutcome =
  | { kind: 'response'; headers: HeaderPairs; body: Uint8Array; trailers: HeaderPairs }
  | { kind: 'reset'; reason: string };

export interface HttpCallHandle {
  cancel(): void;
}

function pairsFromRaw(raw: string[]): HeaderPairs {
  const out: HeaderPairs = [];
  for (let n = 0; n + 1 < raw.length; n += 2) out.push([raw[n]!.toLowerCase(), raw[n + 1]!]);
  return out;
}

function timeoutResponse(): HttpCallOutcome {
  const body = new TextEncoder().encode('upstream request timeout');
  return {
    kind: 'response',
    headers: [[':status', '504'], ['content-length', String(body.length)], ['content-type', 'text/plain']],
    body,
    trailers: [],
  };
}

export function createHttpCaller(clock: HostClock, agent: http.Agent) {
  return function httpCall(cluster: ClusterSpec, headers: HeaderPairs, body: Uint8Array, _trailers: HeaderPairs,
    timeoutMs: number, done: (outcome: HttpCallOutcome) => void): HttpCallHandle {
    let finished = false;
    const finish = (outcome: HttpCallOutcome) => {
      if (finished) return;
      finished = true;
      timer?.cancel();
      done(outcome);
    };
    const get = (name: string) => headers.find(([k]) => k === name)?.[1] ?? '';
    const outgoing: Record<string, string | string[]> = {};
    for (const [k, v] of headers) {
      if (k.startsWith(':')) continue;
      const prev = outgoing[k];
      outgoing[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    outgoing.host = get(':authority');
    if (body.length > 0) outgoing['content-length'] = String(body.length);
    const req = http.request({ host: cluster.host, port: cluster.port, method: get(':method'), path: get(':path'),
      headers: outgoing, agent });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish({
        kind: 'response',
        headers: [[':status', String(res.statusCode ?? 0)], ...pairsFromRaw(res.rawHeaders)],
        body: new Uint8Array(Buffer.concat(chunks)),
        trailers: pairsFromRaw(res.rawTrailers),
      }));
      res.on('error', (err) => finish({ kind: 'reset', reason: err.message }));
      res.on('aborted', () => finish({ kind: 'reset', reason: 'aborted' }));
    });
    req.on('error', (err) => finish({ kind: 'reset', reason: err.message }));
    const timer = timeoutMs > 0 ? clock.schedule(timeoutMs, () => {
      finish(timeoutResponse());
      req.destroy();
    }) : undefined;
    req.end(body.length > 0 ? Buffer.from(body) : undefined);
    return {
      cancel: () => {
        finished = true;
        timer?.cancel();
        req.destroy();
      },
    };
  };
}
