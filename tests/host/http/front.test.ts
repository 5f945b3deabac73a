// The HTTP front: real HTTP/1.1 through the plugin to a loopback upstream — header mutations both ways, local
// replies, pauses with continue_stream, keep-alive connections pinned to one worker, hop-by-hop headers, and bodies
// streamed through the body callbacks chunk by chunk; request targets read as Envoy's HTTP/1 codec reads them (raw
// bytes on a socket: absolute-form, asterisk-form, CONNECT, versions other than HTTP/1.1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { startFront } from '../../../host/http/front.js';
import { encodePairs, probeHost } from '../helpers.js';

let upstream: http.Server;
let upstreamPort = 0;
const seen: Array<{ url: string; headers: http.IncomingHttpHeaders; body: string }> = [];

before(async () => {
  upstream = http.createServer({ maxHeaderSize: 128 * 1024 }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ url: req.url!, headers: req.headers, body });
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part1-');
        setTimeout(() => {
          res.write('part2-');
          setTimeout(() => res.end('part3'), 20);
        }, 20);
        return;
      }
      res.writeHead(200, { 'x-upstream': 'yes', 'content-type': 'text/plain' });
      res.end(`echo:${body}`);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
});

after(async () => {
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reused: boolean;
}

function send(port: number, opts: { method?: string; path: string; headers?: Record<string, string>; chunks?: string[]; agent?: http.Agent }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    const chunks = [...(opts.chunks ?? [])];
    const writeNext = () => {
      const c = chunks.shift();
      if (c === undefined) {
        req.end();
        return;
      }
      req.write(c);
      setTimeout(writeNext, 15);
    };
    writeNext();
  });
}

async function frontWithProbe(failStrategy?: 'FAIL_OPEN') {
  const t = await probeHost({ workers: 2 }, failStrategy ? { failStrategy } : {});
  const front = await startFront(t.host, { port: 0, upstream: { host: '127.0.0.1', port: upstreamPort } });
  return { ...t, front, close: async () => { await front.close(); await t.host.close(); } };
}

test('front: proxies through the filter with request and response header mutations', async () => {
  const f = await frontWithProbe();
  f.on('proxy_on_request_headers', (p) => {
    const [k, kl] = p.put('x-added');
    const [v, vl] = p.put('by-filter');
    p.call('add_header_map_value', 0, k, kl, v, vl);
  });
  f.on('proxy_on_response_headers', (p) => {
    const [k, kl] = p.put('x-upstream');
    p.call('remove_header_map_value', 2, k, kl);
    const [a, al] = p.put('x-filtered');
    p.call('add_header_map_value', 2, a, al, a, al);
  });
  const r = await send(f.front.port, { method: 'POST', path: '/echo?q=1', headers: { 'content-type': 'text/plain' }, chunks: ['hello'] });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'echo:hello');
  assert.equal(r.headers['x-upstream'], undefined);
  assert.equal(r.headers['x-filtered'], 'x-filtered');
  const up = seen.at(-1)!;
  assert.equal(up.url, '/echo?q=1');
  assert.equal(up.headers['x-added'], 'by-filter');
  assert.match(String(up.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  await f.close();
});

test('front: local reply goes to the client and the upstream is not called', async () => {
  const f = await frontWithProbe();
  f.on('proxy_on_request_headers', (p) => {
    const [b, bl] = p.put('{"error":"forbidden"}');
    const [h, hl] = p.put(encodePairs([['content-type', 'application/json']]));
    p.call('send_local_response', 403, 0, 0, b, bl, h, hl, -1);
  });
  const before = seen.length;
  const r = await send(f.front.port, { path: '/deny' });
  assert.equal(r.status, 403);
  assert.equal(r.body, '{"error":"forbidden"}');
  assert.equal(r.headers['content-type'], 'application/json', 'the guest\'s content-type replaces text/plain');
  assert.equal(seen.length, before);
  await f.close();
});

test('front: keep-alive connection stays on one worker; new connections go round-robin', async () => {
  const f = await frontWithProbe();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  f.calls.length = 0;
  const replies = [];
  for (let i = 0; i < 3; i++) replies.push(await send(f.front.port, { path: `/ka${i}`, agent }));
  assert.deepEqual(replies.map((r) => r.reused), [false, true, true]);
  const workers = new Set(f.calls.filter((c) => c.includes('proxy_on_request_headers')).map((c) => c.split(':')[0]));
  assert.equal(workers.size, 1);
  agent.destroy();
  f.calls.length = 0;
  await send(f.front.port, { path: '/a' });
  await send(f.front.port, { path: '/b' });
  const spread = f.calls.filter((c) => c.includes('proxy_on_request_headers')).map((c) => c.split(':')[0]);
  assert.equal(new Set(spread).size, 2);
  await f.close();
});

test('front: hop-by-hop headers are neither shown to the filter nor forwarded', async () => {
  const f = await frontWithProbe();
  let filterSaw: string[] = [];
  f.on('proxy_on_request_headers', (p) => {
    filterSaw = p.pairs(0).pairs.map(([k]) => k);
  });
  await send(f.front.port, { path: '/hop', headers: { connection: 'keep-alive, x-hop', 'x-hop': '1', 'keep-alive': 'timeout=5', 'x-end': '1' } });
  assert.ok(filterSaw.includes('x-end'));
  assert.ok(!filterSaw.includes('x-hop') && !filterSaw.includes('keep-alive') && !filterSaw.includes('connection'));
  const up = seen.at(-1)!;
  assert.equal(up.headers['x-hop'], undefined);
  assert.equal(up.headers['x-end'], '1');
  await f.close();
});

test('front: request and response bodies stream through the body callbacks chunk by chunk', async () => {
  const f = await frontWithProbe();
  f.calls.length = 0;
  const bodyCalls = (what: string) => f.calls.filter((c) => c.includes(what));
  // The client sends each chunk only after the filter saw the previous one, so chunks cannot coalesce in transit.
  const r = await new Promise<Reply>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: f.front.port, method: 'POST', path: '/stream', agent: false,
      headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, reused: false }));
    });
    req.on('error', reject);
    void (async () => {
      for (const [n, chunk] of ['aaa', 'bbb', 'ccc'].entries()) {
        req.write(chunk);
        for (let i = 0; i < 400 && bodyCalls('proxy_on_request_body').length <= n; i++) await new Promise((res) => setTimeout(res, 5));
      }
      req.end();
    })();
  });
  assert.equal(r.body, 'part1-part2-part3');
  assert.equal(seen.at(-1)!.body, 'aaabbbccc');
  const requestBodies = bodyCalls('proxy_on_request_body');
  assert.deepEqual(requestBodies.map((c) => c.split(',')[1]), ['3', '3', '3', '0'], requestBodies.join(' '));
  assert.match(requestBodies.at(-1)!, /,1\)$/, 'the last body callback has end_of_stream');
  // The upstream's three writes are spaced in time; at least one data callback precedes the end-of-stream one.
  const responseBodies = bodyCalls('proxy_on_response_body');
  assert.ok(responseBodies.length >= 2, responseBodies.join(' '));
  assert.match(responseBodies.at(-1)!, /,1\)$/);
  await f.close();
});

test('front: a paused request continues when the filter calls continue_stream', async () => {
  const f = await frontWithProbe();
  let stream = 0;
  f.on('proxy_on_request_headers', (p, args) => {
    stream = args[0]!;
    p.vm.fn('set_ret')!(1);
  });
  const before = seen.length;
  const pending = send(f.front.port, { path: '/paused' });
  for (let i = 0; i < 100 && stream === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(seen.length, before, 'held while paused');
  const vm = f.calls.find((c) => c.includes('proxy_on_request_headers'))!.split(':')[0];
  const worker = f.host.vms().workers.find((w) => w.label === vm)!;
  f.on('proxy_on_tick', (p) => {
    p.vm.fn('set_ret')!(0);
    p.call('set_effective_context', stream);
    p.call('continue_stream', 0);
  });
  worker.call('proxy_on_tick', [1], { contextId: 1 });
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(seen.at(-1)!.url, '/paused');
  await f.close();
});

test('front: an unreachable upstream gives the router\'s 503 and the stream still completes', async () => {
  const t = await probeHost({ workers: 1 });
  const dead = http.createServer();
  await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
  const deadPort = (dead.address() as AddressInfo).port;
  await new Promise((resolve) => dead.close(resolve));
  const front = await startFront(t.host, { port: 0, upstream: { host: '127.0.0.1', port: deadPort } });
  const r = await send(front.port, { path: '/nowhere' });
  assert.equal(r.status, 503);
  assert.match(r.body, /^upstream connect error/);
  assert.ok(t.calls.some((c) => c.includes('proxy_on_delete(2)')));
  await front.close();
  await t.host.close();
});

test('front: body statuses — Buffer accumulates, Watermark holds but shows each chunk, NoBuffer (and > 3) drops', async () => {
  const f = await frontWithProbe();
  const sizes: number[] = [];
  let mode = 1;
  f.on('proxy_on_request_body', (p, args) => {
    sizes.push(args[1]!);
    p.vm.fn('set_ret')!(args[2] === 1 ? 0 : mode);
  });
  const post = () => send(f.front.port, { method: 'POST', path: '/echo', headers: { 'transfer-encoding': 'chunked' }, chunks: ['aaa', 'bbb', 'ccc'] });
  let r = await post();
  assert.equal(r.body, 'echo:aaabbbccc');
  assert.equal(sizes.at(-1), 9, 'StopIterationAndBuffer: the end-of-stream callback sees the whole body');
  assert.deepEqual([...sizes].sort((a, b) => a - b), sizes, 'sizes only grow while buffering');
  sizes.length = 0;
  mode = 2;
  r = await post();
  assert.equal(r.body, 'echo:aaabbbccc', 'watermark-held data is forwarded on Continue');
  assert.equal(sizes.reduce((a, b) => a + b, 0), 9, 'each callback sees only its own chunk');
  sizes.length = 0;
  mode = 3;
  r = await post();
  assert.equal(r.body, 'echo:', 'StopIterationNoBuffer: the chunks are not kept');
  mode = 7;
  r = await post();
  assert.equal(r.body, 'echo:', 'a status above 3 is StopIterationNoBuffer, as Envoy maps it');
  await f.close();
});

test('front: the codec limits apply (61 KiB of headers → 431, the filter never sees the headers)', async () => {
  const f = await frontWithProbe();
  f.calls.length = 0;
  const r = await send(f.front.port, { path: '/big', headers: { 'x-big': 'a'.repeat(61 * 1024) } });
  assert.equal(r.status, 431);
  assert.ok(!f.calls.some((c) => c.includes('proxy_on_request_headers')));
  assert.ok(f.calls.some((c) => c.includes('proxy_on_log')));
  const ok = await send(f.front.port, { path: '/fine', headers: { 'x-big': 'a'.repeat(20 * 1024) } });
  assert.equal(ok.status, 200, 'above Node\'s 16 KiB default, within Envoy\'s 60 KiB');
  await f.close();
});

test('front: a client that disconnects while the filter holds its request ends the stream (log → done → delete)', async () => {
  const f = await frontWithProbe();
  f.on('proxy_on_request_headers', (p) => p.vm.fn('set_ret')!(1));
  f.calls.length = 0;
  const req = http.request({ host: '127.0.0.1', port: f.front.port, path: '/held', agent: false });
  req.on('error', () => undefined);
  req.end();
  for (let i = 0; i < 200 && !f.calls.some((c) => c.includes('proxy_on_request_headers')); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  req.destroy();
  for (let i = 0; i < 200 && !f.calls.some((c) => c.includes('proxy_on_delete')); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(f.calls.filter((c) => /on_log|on_done|on_delete/.test(c)).map((c) => c.split(':')[1]!.split('(')[0]),
    ['proxy_on_log', 'proxy_on_done', 'proxy_on_delete']);
  await f.close();
});

test('front: a buffering filter that exceeds the 1 MiB buffer limit gets 413 before it sees the next chunk', async () => {
  const f = await frontWithProbe();
  const sizes: number[] = [];
  f.on('proxy_on_request_body', (p, args) => {
    sizes.push(args[1]!);
    p.vm.fn('set_ret')!(1);
  });
  f.on('proxy_on_response_headers', (p) => p.vm.fn('set_ret')!(0)); // the 413 itself passes through
  const before = seen.length;
  const chunk = 'x'.repeat(700 * 1024);
  const r = await send(f.front.port, { method: 'POST', path: '/big', headers: { 'transfer-encoding': 'chunked' }, chunks: [chunk, chunk, chunk] });
  assert.equal(r.status, 413);
  assert.equal(r.body, 'Payload Too Large');
  assert.equal(seen.length, before, 'nothing reached the upstream');
  assert.ok(Math.max(...sizes) <= 1024 * 1024, `the filter never held more than the limit (${Math.max(...sizes)})`);
  await f.close();
});

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection after the reply. */
  closed: boolean;
}

/** Sends raw bytes and reads one response (content-length framed); waits briefly to see whether the server closes. */
function rawRequest(port: number, bytes: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes, 'latin1'));
    let buf = Buffer.alloc(0);
    let parsed: Omit<RawReply, 'closed'> | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      if (parsed === undefined) reject(new Error(`no complete response: ${JSON.stringify(buf.toString('latin1'))}`));
      else resolve({ ...parsed, closed });
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0 || parsed !== undefined) return;
      const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < end + 4 + length) return;
      parsed = { status: Number(statusLine!.split(' ')[1]), headers, body: buf.subarray(end + 4, end + 4 + length).toString() };
      timer = setTimeout(() => finish(false), 150);
    });
    socket.on('end', () => finish(true));
    socket.on('error', (err) => (parsed === undefined ? reject(err) : finish(true)));
  });
}

/** A probe front that records the request headers the filter saw (undefined: on_request_headers never ran). */
async function targetProbe() {
  const f = await frontWithProbe();
  const state: { saw: Array<[string, string]> | undefined } = { saw: undefined };
  f.on('proxy_on_request_headers', (p) => {
    state.saw = p.pairs(0).pairs;
  });
  const callbacks = () => f.calls.map((c) => c.split(':')[1]!.split('(')[0]);
  return { ...f, state, callbacks, pseudo: (name: string) => state.saw?.find(([k]) => k === name)?.[1] };
}

test('front: an absolute-form target reaches the filter as Envoy\'s codec splits it (:authority from the URL, origin-form :path)', async () => {
  const f = await targetProbe();
  const before = seen.length;
  // The security finding: node hands over req.url "http://x/orders"; a filter expecting origin-form matched no API.
  const r = await rawRequest(f.front.port, 'GET http://x/orders?a=1 HTTP/1.1\r\nHost: other\r\n\r\n');
  assert.equal(r.status, 200);
  assert.equal(f.pseudo(':path'), '/orders?a=1');
  assert.equal(f.pseudo(':authority'), 'x', 'the URL\'s authority replaces Host');
  assert.equal(f.pseudo(':scheme'), 'http');
  assert.equal(f.state.saw!.some(([k]) => k === 'host'), false);
  assert.equal(seen.length, before + 1);
  assert.equal(seen.at(-1)!.url, '/orders?a=1');
  assert.equal(seen.at(-1)!.headers.host, 'x');
  // https in absolute-form sets :scheme; x-forwarded-proto still tells the plaintext connection.
  await rawRequest(f.front.port, 'GET https://x:8443/p HTTP/1.1\r\nHost: other\r\n\r\n');
  assert.deepEqual([f.pseudo(':scheme'), f.pseudo(':authority'), f.pseudo(':path'), f.pseudo('x-forwarded-proto')], ['https', 'x:8443', '/p', 'http']);
  await f.close();
});

test('front: targets Envoy refuses before the filter get Envoy\'s status; the filter sees only create → log → done → delete', async () => {
  const f = await targetProbe();
  const cases: Array<[string, number, string, boolean]> = [
    // [raw request, status, body, connection closed]
    ['OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 404, '', false],
    ['GET * HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'Bad Request', true],
    ['GET ftp://x/a HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'Bad Request', true],
    ['GET http://x?q HTTP/1.1\r\nHost: x\r\n\r\n', 404, '', false],
    ['GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n', 400, '', true],
    ['GET /a HTTP/1.1\r\n\r\n', 400, '', true],
    ['M-SEARCH /a HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'Bad Request', true],
  ];
  for (const [bytes, status, body, closed] of cases) {
    f.calls.length = 0;
    f.state.saw = undefined;
    const before = seen.length;
    const r = await rawRequest(f.front.port, bytes);
    const what = JSON.stringify(bytes.split('\r\n')[0]);
    assert.deepEqual([r.status, r.body, r.closed], [status, body, closed], what);
    assert.equal(f.state.saw, undefined, `${what}: the filter never saw the headers`);
    assert.equal(seen.length, before, `${what}: nothing reached the upstream`);
    assert.deepEqual(f.callbacks(), ['proxy_on_context_create', 'proxy_on_log', 'proxy_on_done', 'proxy_on_delete'], what);
  }
  await f.close();
});

test('front: HTTP/1.0, HTTP/0.9 and other versions get Envoy\'s 426 (accept_http_10 off); a malformed one a 400', async () => {
  const f = await targetProbe();
  // HTTP/1.2 and 3.0 are refused by node's own parser: the front still answers as Envoy (426), not node (400).
  for (const bytes of ['GET /a HTTP/1.0\r\n\r\n', 'GET /a\r\n\r\n', 'GET /a HTTP/1.2\r\nHost: x\r\n\r\n', 'GET /a HTTP/2.0\r\nHost: x\r\n\r\n', 'GET /a HTTP/3.0\r\nHost: x\r\n\r\n']) {
    f.calls.length = 0;
    const r = await rawRequest(f.front.port, bytes);
    assert.deepEqual([r.status, r.body, r.closed, r.headers['content-type']], [426, 'Upgrade Required', true, 'text/plain'], JSON.stringify(bytes));
    assert.equal(f.state.saw, undefined);
    assert.deepEqual(f.callbacks(), ['proxy_on_context_create', 'proxy_on_log', 'proxy_on_done', 'proxy_on_delete']);
  }
  for (const bytes of ['GET /a HTTP/1.10\r\nHost: x\r\n\r\n', 'GET orders HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /a FOO\r\nHost: x\r\n\r\n']) {
    const r = await rawRequest(f.front.port, bytes);
    assert.deepEqual([r.status, r.body, r.closed], [400, 'Bad Request', true], JSON.stringify(bytes));
  }
  assert.equal(f.state.saw, undefined);
  await f.close();
});

test('front: CONNECT reaches the filter with :authority host:port and no :path, then no route matches (404); no tunnel', async () => {
  const f = await targetProbe();
  const before = seen.length;
  const r = await rawRequest(f.front.port, 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n');
  assert.deepEqual([r.status, r.body, r.closed], [404, '', true]);
  assert.equal(f.pseudo(':method'), 'CONNECT');
  assert.equal(f.pseudo(':authority'), 'x:443');
  assert.equal(f.pseudo(':path'), undefined);
  assert.equal(seen.length, before);
  // The router's 404 passes the filter's response callbacks, as any local reply does.
  assert.ok(f.calls.some((c) => c.includes('proxy_on_response_headers')));
  // An authority that is not host:port is the codec's 400, before the filter.
  f.state.saw = undefined;
  const bad = await rawRequest(f.front.port, 'CONNECT /a HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.deepEqual([bad.status, bad.closed], [400, true]);
  assert.equal(f.state.saw, undefined);
  // A filter's local reply to a CONNECT is what the client gets.
  f.on('proxy_on_request_headers', (p) => {
    const [b, bl] = p.put('no');
    p.call('send_local_response', 403, 0, 0, b, bl, 0, 0, -1);
  });
  const denied = await rawRequest(f.front.port, 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n');
  assert.deepEqual([denied.status, denied.body], [403, 'no']);
  await f.close();
});
