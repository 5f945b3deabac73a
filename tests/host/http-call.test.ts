// proxy_http_call against a real loopback server: response delivery to the root context with (token, headers, body,
// trailers) counts, the response maps/buffer inside the callback only, tokens per VM, failures and timeouts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodePairs, probeHost, text, type Probe } from './helpers.js';

let server: http.Server;
let port = 0;
let deadPort = 0;
let hangClosed = 0;
const received: Array<{ method: string; url: string; host: string; body: string; key: string }> = [];

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, host: req.headers.host ?? '', body, key: String(req.headers['x-key'] ?? '') });
      if (req.url === '/reset') {
        req.socket.destroy();
        return;
      }
      if (req.url === '/slow') return; // never answers
      if (req.url === '/hang') {
        res.on('close', () => hangClosed++); // never answers; counts requests the caller gave up
        return;
      }
      res.setHeader('x-svc', 'yes');
      res.setHeader('trailer', 'x-checksum');
      res.write('po');
      res.addTrailers({ 'x-checksum': 'abc' });
      res.end('ng');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function call(p: Probe, cluster: string, headers: Array<[string, string]>, body: string, timeoutMs: number): { result: number; token: number } {
  const [c, cl] = p.put(cluster);
  const [h, hl] = p.put(encodePairs(headers));
  const [b, bl] = p.put(body);
  const slot = p.alloc(4);
  const result = p.call('http_call', c, cl, h, hl, b, bl, 0, 0, timeoutMs, slot);
  return { result, token: result === 0 ? p.u32(slot) : 0 };
}

const GET = (path: string): Array<[string, string]> => [[':method', 'GET'], [':path', path], [':authority', 'svc.local'], ['x-key', 'k1']];

async function until(cond: () => boolean, host: { settle(ms?: number): Promise<void> }): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await host.settle(50);
}

test('http_call: success delivered to the root context; maps 6/7 and buffer 4 readable only inside the callback', async () => {
  const t = await probeHost({ clusters: { svc: { host: '127.0.0.1', port } } });
  let stream = 0;
  const tokens: number[] = [];
  t.on('proxy_on_request_headers', (p, args) => {
    stream = args[0]!;
    const a = call(p, 'svc', [[':method', 'POST'], [':path', '/check?x=1'], [':authority', 'svc.local'], ['x-key', 'k1']], 'payload', 1000);
    const b = call(p, 'svc', GET('/second'), '', 0);
    tokens.push(a.token, b.token);
    assert.deepEqual([a.result, b.result], [0, 0]);
    p.vm.fn('set_ret')!(1);
  });
  const seen: Array<Record<string, unknown>> = [];
  t.on('proxy_on_http_call_response', (p, args) => {
    const status = p.alloc(4);
    const msg = p.outSlots();
    p.call('get_status', status, ...msg);
    seen.push({
      args: args.slice(0, 2).concat(args.slice(3)),
      headers: p.pairs(6).pairs.filter(([k]) => k === ':status' || k === 'x-svc'),
      body: text(p.get('get_buffer_bytes', 4, 0, 100).data),
      trailers: p.pairs(7).pairs,
      status: p.u32(status),
      requestMapFromRoot: p.getHeader(0, ':path').result,
      addToResponseMap: p.call('add_header_map_value', 6, ...p.put('x'), ...p.put('y')),
      responseMapSize: p.call('get_header_map_size', 6, p.alloc(4)),
    });
    if (seen.length === 2) {
      p.vm.fn('set_ret')!(0); // the response callbacks continue
      assert.equal(p.call('set_effective_context', stream), 0);
      assert.equal(p.getHeader(0, ':path').value, '/api');
      assert.equal(p.call('continue_stream', 0), 0);
    }
  });
  const res = t.host.request({ method: 'GET', path: '/api', worker: 0 });
  const r = await res;
  assert.equal(r.status, 200);
  assert.deepEqual(tokens, [4, 8], 'tokens per VM: 4, 8, …');
  const sorted = seen.sort((x, y) => (x.args as number[])[1]! - (y.args as number[])[1]!);
  for (const s of sorted) {
    assert.deepEqual(s.headers, [[':status', '200'], ['x-svc', 'yes']]);
    assert.equal(s.body, 'pong');
    assert.deepEqual(s.trailers, [['x-checksum', 'abc']]);
    assert.equal(s.status, 0);
    assert.equal(s.requestMapFromRoot, 2, 'the root context has no request headers');
    assert.equal(s.addToResponseMap, 2, 'the http_call response maps are read-only');
    assert.equal(s.responseMapSize, 2, 'size needs the mutable map, as in Envoy');
  }
  assert.deepEqual((sorted[0]!.args as number[]).slice(0, 2), [1, 4], 'delivered to root context 1 with its token');
  assert.equal((sorted[0]!.args as number[])[3], 1, 'one trailer');
  const post = received.find((x) => x.url === '/check?x=1')!;
  assert.deepEqual([post.method, post.host, post.body, post.key], ['POST', 'svc.local', 'payload', 'k1']);
  await t.host.close();
});

test('http_call argument errors: unknown cluster, missing :authority/:path/:method, negative timeout, malformed pairs → BadArgument', async () => {
  const t = await probeHost({ clusters: { svc: { host: '127.0.0.1', port } } });
  const codes: number[] = [];
  t.on('proxy_on_request_headers', (p) => {
    codes.push(call(p, 'nope', GET('/'), '', 0).result);
    codes.push(call(p, 'svc', [[':method', 'GET'], [':path', '/']], '', 0).result);
    codes.push(call(p, 'svc', [[':method', 'GET'], [':authority', 'a']], '', 0).result);
    codes.push(call(p, 'svc', [[':path', '/'], [':authority', 'a']], '', 0).result);
    codes.push(call(p, 'svc', GET('/'), '', -1).result);
    const [c, cl] = p.put('svc');
    const [h, hl] = p.put(new Uint8Array([1, 0, 0]));
    codes.push(p.call('http_call', c, cl, h, hl, 0, 0, 0, 0, 0, p.alloc(4)));
  });
  await t.host.request({ method: 'GET', path: '/' });
  assert.deepEqual(codes, [2, 2, 2, 2, 2, 2]);
  await t.host.close();
});

test('http_call failure: connection refused and reset arrive as (token, 0, 0, 0) with get_status 11 "reset"', async () => {
  const t = await probeHost({ clusters: { dead: { host: '127.0.0.1', port: deadPort }, svc: { host: '127.0.0.1', port } } });
  const seen: Array<{ args: number[]; status: number; message: string; headers: number }> = [];
  t.on('proxy_on_request_headers', (p) => {
    assert.equal(call(p, 'dead', GET('/'), '', 1000).result, 0);
    assert.equal(call(p, 'svc', GET('/reset'), '', 1000).result, 0);
  });
  t.on('proxy_on_http_call_response', (p, args) => {
    const status = p.alloc(4);
    const msg = p.outSlots();
    p.call('get_status', status, ...msg);
    seen.push({ args, status: p.u32(status), message: text(p.readOut(msg)), headers: p.pairs(6).pairs.length });
  });
  await t.host.request({ method: 'GET', path: '/', worker: 1 });
  await until(() => seen.length === 2, t.host);
  assert.equal(seen.length, 2);
  for (const s of seen) {
    assert.deepEqual(s.args.slice(2), [0, 0, 0]);
    assert.equal(s.status, 11);
    assert.equal(s.message, 'reset');
    assert.equal(s.headers, 0);
  }
  assert.deepEqual(seen.map((s) => s.args[1]).sort(), [4, 8]);
  // Envoy clears only the message after the failure callback: the root context's code stays 11, even while a later
  // successful response is delivered, whereas a stream context has a status of its own (0).
  let streamStatus = -1;
  t.on('proxy_on_request_headers', (p) => {
    assert.equal(call(p, 'svc', GET('/later'), '', 1000).result, 0);
    const status = p.alloc(4);
    p.call('get_status', status, ...p.outSlots());
    streamStatus = p.u32(status);
  });
  await t.host.request({ method: 'GET', path: '/', worker: 1 });
  await until(() => seen.length === 3, t.host);
  assert.equal(streamStatus, 0);
  assert.deepEqual([seen[2]!.args[1], seen[2]!.headers > 0, seen[2]!.status, seen[2]!.message], [12, true, 11, '']);
  await t.host.close();
});

test('http_call timeout: a synthesized 504 response on the host clock; timeout 0 never fires', async () => {
  const t = await probeHost({ clusters: { svc: { host: '127.0.0.1', port } } });
  const seen: Array<{ token: number; status: string; body: string }> = [];
  t.on('proxy_on_request_headers', (p) => {
    call(p, 'svc', GET('/slow'), '', 200);
    call(p, 'svc', GET('/slow'), '', 0);
  });
  t.on('proxy_on_http_call_response', (p, args) => {
    seen.push({ token: args[1]!, status: p.getHeader(6, ':status').value, body: text(p.get('get_buffer_bytes', 4, 0, 100).data) });
  });
  await t.host.request({ method: 'GET', path: '/' });
  await until(() => received.filter((r) => r.url === '/slow').length >= 2, t.host);
  await t.host.advance(199);
  assert.equal(seen.length, 0);
  await t.host.advance(1);
  assert.deepEqual(seen, [{ token: 4, status: '504', body: 'upstream request timeout' }]);
  await t.host.advance(3_600_000);
  assert.equal(seen.length, 1);
  await t.host.close();
});

test('http_call: deleting the root context (after a config change) cancels its outstanding calls', async () => {
  const t = await probeHost({ workers: 1, clusters: { svc: { host: '127.0.0.1', port } } });
  const responses: number[] = [];
  t.on('proxy_on_request_headers', (p) => {
    if (p.vm.label === 'worker0') assert.equal(call(p, 'svc', GET('/hang'), '', 0).result, 0);
  });
  t.on('proxy_on_http_call_response', (_p, args) => responses.push(args[1]!));
  await t.host.request({ method: 'GET', path: '/', worker: 0 });
  await until(() => received.some((r) => r.url === '/hang'), t.host);
  const closedBefore = hangClosed;
  t.on('proxy_on_request_headers', undefined);
  await t.host.reconfigure('{"v":2}');
  await until(() => t.calls.includes('worker0:proxy_on_delete(1)'), t.host);
  await until(() => hangClosed > closedBefore, t.host);
  assert.equal(hangClosed, closedBefore + 1, 'the upstream sees the call abandoned');
  assert.deepEqual(responses, [], 'no response (nor failure) is delivered for a cancelled call');
  await t.host.close();
});

test('http_call from a root context (on_tick) and the canary\'s calls are real', async () => {
  const before = received.length;
  const t = await probeHost({ clusters: { svc: { host: '127.0.0.1', port } } }, {}, {
    proxy_on_configure: (p) => {
      if (p.vm.label === 'canary') assert.equal(call(p, 'svc', GET('/from-canary'), '', 1000).result, 0);
    },
  });
  const main = t.host.vms().main!;
  t.on('proxy_on_tick', (p) => assert.equal(call(p, 'svc', GET('/from-main'), '', 1000).result, 0));
  main.call('proxy_on_tick', [1], { contextId: 1 });
  await until(() => Number(main.fn('http_responses')!()) === 1, t.host);
  assert.equal(Number(main.fn('http_responses')!()), 1);
  const urls = received.slice(before).map((r) => r.url);
  assert.ok(urls.includes('/from-canary'));
  assert.ok(urls.includes('/from-main'));
  await t.host.close();
});
