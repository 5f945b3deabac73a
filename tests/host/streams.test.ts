// Stream lifecycle and filter semantics: callback order, header-map availability, local replies overriding the
// callback's return, StopIteration pausing body callbacks until continue_stream, body buffers and header mutations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePairs, probeHost, text, utf8 } from './helpers.js';

test('callback order: create(S, R) → request headers/body → response headers/body → log → done → delete', async () => {
  const t = await probeHost();
  t.calls.length = 0;
  const r = await t.host.request({ method: 'POST', path: '/x', body: 'abc', worker: 0 }, () => ({ status: 200, headers: [], body: 'resp' }));
  assert.equal(r.status, 200);
  assert.equal(text(r.body), 'resp');
  assert.deepEqual(t.calls, [
    'worker0:proxy_on_context_create(2,1)',
    'worker0:proxy_on_request_headers(2,7,0)',
    'worker0:proxy_on_request_body(2,3,1)',
    'worker0:proxy_on_response_headers(2,1,0)',
    'worker0:proxy_on_response_body(2,4,1)',
    'worker0:proxy_on_log(2)',
    'worker0:proxy_on_done(2)',
    'worker0:proxy_on_delete(2)',
  ]);
  // context ids are per VM: the next stream on worker0 is 3, the first on worker1 is 2
  t.calls.length = 0;
  await t.host.request({ method: 'GET', path: '/', worker: 0 });
  await t.host.request({ method: 'GET', path: '/', worker: 1 });
  assert.ok(t.calls.includes('worker0:proxy_on_context_create(3,1)'));
  assert.ok(t.calls.includes('worker1:proxy_on_context_create(2,1)'));
  await t.host.close();
});

test('request headers as Envoy presents them: pseudo-headers first, count includes them, size = key+value bytes', async () => {
  const t = await probeHost();
  let seen: Array<[string, string]> = [];
  let size = -1;
  t.on('proxy_on_request_headers', (p) => {
    seen = p.pairs(0).pairs;
    const slot = p.alloc(4);
    assert.equal(p.call('get_header_map_size', 0, slot), 0);
    size = p.u32(slot);
  });
  await t.host.request({ method: 'get', path: '/a?b=1', authority: 'api.example', headers: { 'X-Key': 'K1', 'x-request-id': 'rid' } });
  assert.deepEqual(seen, [[':authority', 'api.example'], [':path', '/a?b=1'], [':method', 'GET'], [':scheme', 'http'],
    ['x-key', 'K1'], ['x-request-id', 'rid'], ['x-forwarded-proto', 'http']]);
  assert.equal(size, seen.reduce((s, [k, v]) => s + k.length + v.length, 0));
  await t.host.close();
});

test('header maps: get first value, NotFound, add/replace/remove reach the upstream; response mutations reach the client', async () => {
  const t = await probeHost();
  t.on('proxy_on_request_headers', (p) => {
    const [k, kl] = p.put('X-Multi');
    const [v1, v1l] = p.put('one');
    const [v2, v2l] = p.put('two');
    assert.equal(p.call('add_header_map_value', 0, k, kl, v1, v1l), 0);
    assert.equal(p.call('add_header_map_value', 0, k, kl, v2, v2l), 0);
    assert.deepEqual(p.getHeader(0, 'x-multi'), { result: 0, value: 'one' });
    assert.equal(p.getHeader(0, 'x-absent').result, 1, 'missing key → NotFound');
    const [d, dl] = p.put('x-drop');
    assert.equal(p.call('remove_header_map_value', 0, d, dl), 0);
    const [rk, rkl] = p.put('x-replace');
    const [rv, rvl] = p.put('new');
    assert.equal(p.call('replace_header_map_value', 0, rk, rkl, rv, rvl), 0);
    const [pk, pkl] = p.put(':path');
    const [pv, pvl] = p.put('/rewritten');
    assert.equal(p.call('replace_header_map_value', 0, pk, pkl, pv, pvl), 0);
  });
  t.on('proxy_on_response_headers', (p) => {
    const [k, kl] = p.put('x-added');
    const [v, vl] = p.put('yes');
    assert.equal(p.call('add_header_map_value', 2, k, kl, v, vl), 0);
    assert.equal(p.getHeader(2, ':status').value, '201');
  });
  const r = await t.host.request({ method: 'GET', path: '/orig', headers: [['x-drop', '1'], ['x-replace', 'a'], ['x-replace', 'b']] },
    () => ({ status: 201, headers: [['x-up', '1']] }));
  const up = r.upstreamRequest!;
  assert.equal(up.path, '/rewritten');
  assert.deepEqual(up.headers.filter(([k]) => k.startsWith('x-m') || k === 'x-replace' || k === 'x-drop'),
    [['x-multi', 'one'], ['x-multi', 'two'], ['x-replace', 'new']], 'replace = remove all + add (Envoy setCopy)');
  assert.equal(r.status, 201);
  assert.deepEqual(r.headers, [['x-up', '1'], ['x-added', 'yes']]);
  assert.ok((r.hostCalls.proxy_add_header_map_value ?? 0) >= 3);
  await t.host.close();
});

test('map availability: request headers are gone in response callbacks, read-only in on_log; body buffers empty outside body callbacks', async () => {
  const t = await probeHost();
  const results: Record<string, number> = {};
  t.on('proxy_on_request_headers', (p) => {
    // Envoy's body buffer wrapper exists outside body callbacks too: reads are Ok and empty, writes NotFound.
    results.bodyInHeaders = p.get('get_buffer_bytes', 0, 0, 10).result;
    const len = p.alloc(8);
    p.vm.memory.write(len, new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]));
    results.bodyStatusInHeaders = p.call('get_buffer_status', 0, len, len + 4);
    results.bodyLengthInHeaders = p.u32(len);
    const [d, dl] = p.put('x');
    results.bodyWriteInHeaders = p.call('set_buffer_bytes', 0, 0, 0, d, dl);
    results.respHeadersInRequest = p.getHeader(2, ':status').result;
    results.callHeadersOutsideCallback = p.getHeader(6, ':status').result;
    results.grpcMap = p.getHeader(4, 'x').result;
    results.badMap = p.getHeader(8, 'x').result;
    results.badMapPairs = p.pairs(8).result;
  });
  t.on('proxy_on_response_headers', (p) => {
    results.reqInResponse = p.getHeader(0, ':path').result;
    results.reqPairsInResponse = p.pairs(0).result;
    results.reqPairsCount = p.pairs(0).pairs.length;
    const slot = p.alloc(4);
    results.reqSizeInResponse = p.call('get_header_map_size', 0, slot);
  });
  t.on('proxy_on_log', (p) => {
    results.reqTrailersInLog = p.getHeader(1, 'x').result;
    const slot = p.alloc(4);
    results.sizeInLog = p.call('get_header_map_size', 0, slot);
    results.reqInLog = p.getHeader(0, ':path').result;
    results.respInLog = p.getHeader(2, ':status').result;
    const [k, kl] = p.put('x-late');
    results.addInLog = p.call('add_header_map_value', 0, k, kl, k, kl);
  });
  await t.host.request({ method: 'GET', path: '/p' });
  assert.deepEqual(results, {
    bodyInHeaders: 0, bodyStatusInHeaders: 0, bodyLengthInHeaders: 0, bodyWriteInHeaders: 1, respHeadersInRequest: 2, callHeadersOutsideCallback: 2, grpcMap: 2, badMap: 2, badMapPairs: 2,
    reqInResponse: 2, reqPairsInResponse: 0, reqPairsCount: 0, reqSizeInResponse: 2,
    reqInLog: 0, respInLog: 0, addInLog: 2, reqTrailersInLog: 1, sizeInLog: 2,
  });
  await t.host.close();
});

test('header pairs from the guest: malformed input (truncated, missing NUL, trailing bytes, > 1024 pairs, > 1 MiB) is an empty list', async () => {
  const good = encodePairs([[':method', 'GET'], ['x-a', '1']]);
  assert.equal(good.length, 38, 'the example from the notes is 38 bytes');
  const truncated = good.subarray(0, good.length - 1);
  const missingNul = good.slice();
  missingNul[good.length - 1] = 0x41;
  const trailing = new Uint8Array([...good, 0]);
  const many = encodePairs(Array.from({ length: 1025 }, (_, n) => [`k${n}`, 'v'] as [string, string]));
  // One pair ("k", "x" × n) is 4 + 8 + 2 + 1 + n bytes: Envoy's limit is 1 MiB for the whole serialized list.
  const onePair = (n: number) => {
    const bytes = new Uint8Array(15 + n).fill(0x78);
    new DataView(bytes.buffer).setUint32(0, 1, true);
    new DataView(bytes.buffer).setUint32(4, 1, true);
    new DataView(bytes.buffer).setUint32(8, n, true);
    bytes.set([0x6b, 0], 12);
    bytes[14 + n] = 0;
    return bytes;
  };
  const MiB = 1024 * 1024;
  const cases: Array<[string, Uint8Array, Array<[string, string]>]> = [
    ['good', good, [[':method', 'GET'], ['x-a', '1']]],
    ['exactly 1 MiB', onePair(MiB - 15), [['k', 'x'.repeat(MiB - 15)]]], ['1 MiB + 1 byte', onePair(MiB - 14), []],
    ['truncated', truncated, []], ['missing NUL', missingNul, []], ['trailing bytes', trailing, []], ['1025 pairs', many, []],
    ['exactly 1024 pairs', encodePairs(Array.from({ length: 1024 }, (_, n) => [`k${n}`, 'v'] as [string, string])), Array.from({ length: 1024 }, (_, n) => [`k${n}`, 'v'] as [string, string])],
  ];
  for (const [name, bytes, expected] of cases) {
    const t = await probeHost();
    let after: Array<[string, string]> | undefined;
    t.on('proxy_on_request_headers', (p) => {
      const big = bytes.length > 50_000;
      let ptr: number;
      if (big) {
        ptr = Number(p.vm.fn('malloc')!(bytes.length));
        p.vm.memory.write(ptr, bytes);
      } else ptr = p.put(bytes)[0];
      assert.equal(p.call('set_header_map_pairs', 0, ptr, bytes.length), 0);
      after = p.pairs(0).pairs;
    });
    await t.host.request({ method: 'POST', path: '/' });
    assert.deepEqual(after, expected, name);
    await t.host.close();
  }
});

test('send_local_response overrides Continue, skips the upstream, and still passes the sender\'s response callbacks', async () => {
  const t = await probeHost();
  let upstreamCalled = false;
  t.on('proxy_on_request_headers', (p) => {
    const [d, dl] = p.put('denied by\tpolicy');
    const [b, bl] = p.put('no key');
    const [h, hl] = p.put(encodePairs([['x-why', 'missing']]));
    assert.equal(p.call('send_local_response', 401, d, dl, b, bl, h, hl, -1), 0);
    // Deferred until the VM call returns: nothing of the reply has run yet and the callback's frame is intact.
    afterSend = { last: t.calls.at(-1)!, path: p.getHeader(0, ':path').value };
  });
  let afterSend = { last: '', path: '' };
  let seenStatus = '';
  let requestPathInReply = '';
  t.on('proxy_on_response_headers', (p) => {
    seenStatus = p.getHeader(2, ':status').value;
    // The stopped header callback never continued, so Envoy still holds the request header map.
    requestPathInReply = p.getHeader(0, ':path').value;
  });
  t.calls.length = 0;
  const r = await t.host.request({ method: 'GET', path: '/', worker: 0 }, () => {
    upstreamCalled = true;
    return { status: 200, headers: [] };
  });
  assert.equal(upstreamCalled, false);
  assert.equal(r.upstreamRequest, undefined);
  assert.equal(r.status, 401);
  assert.equal(r.localReply, true);
  assert.equal(r.details, 'denied_by_policy');
  assert.equal(text(r.body), 'no key');
  assert.deepEqual(r.headers, [['content-length', '6'], ['content-type', 'text/plain'], ['x-why', 'missing']]);
  assert.equal(seenStatus, '401');
  assert.equal(requestPathInReply, '/');
  assert.deepEqual(afterSend, { last: 'worker0:proxy_on_request_headers(2,6,1)', path: '/' });
  assert.deepEqual(t.calls.map((c) => c.split('(')[0]), ['worker0:proxy_on_context_create', 'worker0:proxy_on_request_headers',
    'worker0:proxy_on_response_headers', 'worker0:proxy_on_response_body', 'worker0:proxy_on_log', 'worker0:proxy_on_done', 'worker0:proxy_on_delete']);
  await t.host.close();
});

test('send_local_response from a root context is accepted and has no effect', async () => {
  const t = await probeHost({}, {}, {
    proxy_on_configure: (p) => {
      const [d, dl] = p.put('x');
      assert.equal(p.call('send_local_response', 500, d, dl, 0, 0, 0, 0, -1), 0);
    },
  });
  const r = await t.host.request({ method: 'GET', path: '/' });
  assert.equal(r.status, 200);
  await t.host.close();
});

test('StopIteration on request headers holds body callbacks until continue_stream (here from a tick via set_effective_context)', async () => {
  const t = await probeHost();
  let streamId = 0;
  t.on('proxy_on_request_headers', (p, args) => {
    streamId = args[0]!;
    p.vm.fn('set_ret')!(1);
  });
  t.on('proxy_on_request_body', (p) => p.vm.fn('set_ret')!(0));
  const vm = t.host.vms().workers[0]!;
  t.on('proxy_on_tick', (p) => {
    if (p.vm !== vm) return;
    assert.equal(p.call('set_effective_context', 999), 2, 'unknown context → BadArgument');
    assert.equal(p.call('set_effective_context', streamId), 0);
    assert.equal(p.getHeader(0, ':path').value, '/held', 'paused request headers stay available');
    assert.equal(p.call('continue_stream', 0), 0);
  });
  const pending = t.host.request({ method: 'POST', path: '/held', body: 'data', worker: 0 });
  await t.host.advance(1);
  assert.ok(!t.calls.some((c) => c.includes('proxy_on_request_body')), 'no body callback while paused');
  // Deliver one tick to worker0's root context (ticks from set_tick_period are covered in ticks.test.ts).
  vm.call('proxy_on_tick', [1], { contextId: 1 });
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(text(r.upstreamRequest!.body), 'data');
  assert.ok(t.calls.some((c) => c.includes('proxy_on_request_body(2,4,1)')));
  await t.host.close();
});

test('request-header status mapping: 0 and 2 continue; 1, 3, 4 and anything above (or negative) stop all iteration', async () => {
  for (const ret of [0, 2, 1, 3, 4, 5, -1]) {
    const t = await probeHost({ workers: 1 });
    let streamId = 0;
    t.on('proxy_on_request_headers', (p, args) => {
      streamId = args[0]!;
      p.vm.fn('set_ret')!(ret);
    });
    t.on('proxy_on_request_body', (p) => p.vm.fn('set_ret')!(0));
    let done = false;
    const pending = t.host.request({ method: 'POST', path: '/', body: 'b', worker: 0 }).then((r) => {
      done = true;
      return r;
    });
    await t.host.advance(1);
    const stops = ret !== 0 && ret !== 2;
    const bodySeen = () => t.calls.some((c) => c.includes('proxy_on_request_body'));
    assert.equal(done, !stops, `status ${ret}`);
    assert.equal(bodySeen(), !stops, `status ${ret}: body callback`);
    if (stops) {
      t.on('proxy_on_tick', (p) => {
        p.call('set_effective_context', streamId);
        p.call('continue_stream', 0);
      });
      const vm = t.host.vms().workers[0]!;
      vm.call('proxy_on_tick', [1], { contextId: 1 });
    }
    assert.equal((await pending).status, 200, `status ${ret}`);
    assert.ok(bodySeen(), `status ${ret}: body after continue`);
    await t.host.close();
  }
});

test('trailers: callbacks in order, maps 1/3 readable and writable only in their callback, a stop waits for continue_stream', async () => {
  const t = await probeHost({ workers: 1 });
  const seen: Record<string, unknown> = {};
  let streamId = 0;
  t.on('proxy_on_request_headers', (p, args) => {
    streamId = args[0]!;
    seen.requestTrailersInHeaders = p.getHeader(1, 'x-t').result;
  });
  t.on('proxy_on_request_body', (p, args) => {
    seen.bodyEndOfStream = args[2];
  });
  t.on('proxy_on_request_trailers', (p, args) => {
    seen.requestTrailerCount = args[1];
    seen.requestTrailer = p.getHeader(1, 'x-t').value;
    const [k, kl] = p.put('x-added');
    const [v, vl] = p.put('yes');
    seen.addRequestTrailer = p.call('add_header_map_value', 1, k, kl, v, vl);
  });
  t.on('proxy_on_response_trailers', (p) => {
    seen.requestTrailersInResponse = p.getHeader(1, 'x-t').result;
    seen.responseTrailer = p.getHeader(3, 'grpc-status').value;
    const [k, kl] = p.put('grpc-status');
    const [v, vl] = p.put('7');
    seen.replaceResponseTrailer = p.call('replace_header_map_value', 3, k, kl, v, vl);
    p.vm.fn('set_ret')!(1); // StopIteration: the response waits for continue_stream
  });
  let done = false;
  const pending = t.host.request({ method: 'POST', path: '/', body: 'b', trailers: [['X-T', '1']], worker: 0 },
    (u) => ({ status: 200, headers: [], body: `trailers:${JSON.stringify(u.trailers)}`, trailers: [['grpc-status', '0']] }))
    .then((r) => {
      done = true;
      return r;
    });
  await t.host.advance(1);
  assert.equal(done, false, 'a response-trailers stop holds the response');
  t.on('proxy_on_tick', (p) => {
    p.vm.fn('set_ret')!(0);
    p.call('set_effective_context', streamId);
    p.call('continue_stream', 1);
  });
  t.host.vms().workers[0]!.call('proxy_on_tick', [1], { contextId: 1 });
  const r = await pending;
  assert.equal(text(r.body), 'trailers:[["x-t","1"],["x-added","yes"]]', 'request trailer changes reach the upstream');
  assert.deepEqual(r.trailers, [['grpc-status', '7']], 'response trailer changes reach the client');
  assert.deepEqual(seen, {
    requestTrailersInHeaders: 2, bodyEndOfStream: 0, requestTrailerCount: 1, requestTrailer: '1', addRequestTrailer: 0,
    requestTrailersInResponse: 2, responseTrailer: '0', replaceResponseTrailer: 0,
  });
  const order = t.calls.map((c) => c.split(':')[1]!.split('(')[0]).filter((c) => c !== 'proxy_on_tick');
  assert.deepEqual(order.slice(-9), ['proxy_on_request_headers', 'proxy_on_request_body', 'proxy_on_request_trailers',
    'proxy_on_response_headers', 'proxy_on_response_body', 'proxy_on_response_trailers', 'proxy_on_log', 'proxy_on_done', 'proxy_on_delete']);
  await t.host.close();
});

test('set_effective_context lasts only for the callback that set it: the next callback starts on its own context', async () => {
  const t = await probeHost({ workers: 1 });
  let streamId = 0;
  t.on('proxy_on_request_headers', (p, args) => {
    streamId = args[0]!;
    p.vm.fn('set_ret')!(1); // paused: the stream stays alive between the ticks
  });
  const vm = t.host.vms().workers[0]!;
  const seen: Array<[string, number, number]> = [];
  let tick = 0;
  t.on('proxy_on_tick', (p) => {
    if (p.vm !== vm) return;
    tick++;
    if (tick === 1) assert.equal(p.call('set_effective_context', streamId), 0);
    seen.push([`tick${tick}`, p.getHeader(0, ':path').result, p.property(['request', 'path']).result]);
    if (tick === 3) {
      p.vm.fn('set_ret')!(0); // the probe's return value is global: let the response callbacks continue
      assert.equal(p.call('set_effective_context', streamId), 0);
      assert.equal(p.call('continue_stream', 0), 0);
      // Envoy forgets the request headers as soon as continue_stream is called, not when the callback returns.
      seen.push(['tick3 after continue', p.getHeader(0, ':path').result, p.property(['request', 'path']).result]);
    }
  });
  const pending = t.host.request({ method: 'GET', path: '/held', worker: 0 });
  await t.host.advance(1);
  for (let n = 0; n < 3; n++) vm.call('proxy_on_tick', [1], { contextId: 1 });
  assert.equal((await pending).status, 200);
  assert.deepEqual(seen, [
    ['tick1', 0, 0], // acting as the stream: its paused request headers and request.* properties
    ['tick2', 2, 1], // a new callback is back on the root context: no header map (BadArgument), request.* NotFound
    ['tick3', 2, 1],
    ['tick3 after continue', 2, 0],
  ]);
  // Once the stream is deleted its id is unknown again.
  t.on('proxy_on_tick', (p) => seen.push(['after', p.call('set_effective_context', streamId), 0]));
  vm.call('proxy_on_tick', [1], { contextId: 1 });
  assert.deepEqual(seen.at(-1), ['after', 2, 0]);
  await t.host.close();
});

test('body buffers: clamped reads, set_buffer_bytes replace/append/BadArgument, status, absent buffers', async () => {
  const t = await probeHost();
  const r: Record<string, unknown> = {};
  t.on('proxy_on_request_body', (p, args) => {
    const [, size] = args;
    r.size = size;
    r.all = text(p.get('get_buffer_bytes', 0, 0, 100).data);
    r.slice = text(p.get('get_buffer_bytes', 0, 2, 3).data);
    r.pastEnd = p.get('get_buffer_bytes', 0, 50, 10);
    r.overflow = p.call('get_buffer_bytes', 0, 1, -1, ...p.outSlots());
    r.badType = p.call('get_buffer_bytes', 9, 0, 1, ...p.outSlots());
    r.absentType = p.call('get_buffer_bytes', 5, 0, 1, ...p.outSlots());
    const [n, nl] = p.put('HELLO');
    assert.equal(p.call('set_buffer_bytes', 0, 0, 5, n, nl), 0);
    const [a, al] = p.put('!');
    assert.equal(p.call('set_buffer_bytes', 0, 100, 0, a, al), 0);
    r.middle = p.call('set_buffer_bytes', 0, 3, 1, a, al);
    const status = p.alloc(8);
    assert.equal(p.call('get_buffer_status', 0, status, status + 4), 0);
    r.status = p.u32(status);
    r.configBuffer = p.call('get_buffer_status', 7, status, status + 4);
  });
  const res = await t.host.request({ method: 'POST', path: '/', body: 'hello world' });
  assert.equal(r.size, 11);
  assert.equal(r.all, 'hello world');
  assert.equal(r.slice, 'llo');
  assert.deepEqual(r.pastEnd, { result: 0, data: new Uint8Array(0) });
  assert.equal(r.overflow, 2);
  assert.equal(r.badType, 2, 'buffer type > 8 → BadArgument');
  assert.equal(r.absentType, 1, 'no gRPC receive buffer → NotFound');
  assert.equal(r.middle, 2);
  assert.equal(r.status, 'HELLO world!'.length);
  assert.equal(r.configBuffer, 1, 'PLUGIN_CONFIGURATION exists only during on_configure');
  assert.equal(text(res.upstreamRequest!.body), 'HELLO world!');
  await t.host.close();
});

test('continue_stream and close_stream codes; close_stream resets the stream', async () => {
  const t = await probeHost();
  t.on('proxy_on_request_headers', (p) => {
    assert.equal(p.call('continue_stream', 7), 2);
    assert.equal(p.call('continue_stream', 3), 12, 'upstream: Unimplemented');
    assert.equal(p.call('continue_stream', 2), 0, 'downstream: Ok, no effect on HTTP');
    assert.equal(p.call('close_stream', 9), 2);
    assert.equal(p.call('close_stream', 0), 0);
  });
  const r = await t.host.request({ method: 'GET', path: '/' });
  assert.equal(r.status, 0);
  assert.equal(r.details, 'wasm_close_stream');
  assert.equal(r.upstreamRequest, undefined);
  await t.host.close();
});

test('properties: NUL-separated paths with Envoy encodings; request.* is NotFound in root contexts', async () => {
  const t = await probeHost({ properties: { 'xds.node.id': 'sidecar~10.0.0.1~shop.ns~ns.svc.cluster.local' } }, {}, {
    proxy_on_configure: (p) => {
      assert.equal(p.property(['request', 'path']).result, 1);
      const [k, kl] = p.put('x');
      assert.equal(p.call('set_property', k, kl, k, kl), 1, 'no stream info in a root context → NotFound');
      assert.equal(text(p.property(['plugin_root_id']).data), 'root');
    },
  });
  const got: Record<string, unknown> = {};
  t.on('proxy_on_request_headers', (p) => {
    got.path = text(p.property(['request', 'path']).data);
    got.urlPath = text(p.property(['request', 'url_path']).data);
    got.query = text(p.property(['request', 'query']).data);
    got.method = text(p.property(['request', 'method']).data);
    got.host = text(p.property(['request', 'host']).data);
    got.header = text(p.property(['request', 'headers', 'x-api-key']).data);
    got.source = text(p.property(['source', 'address']).data);
    got.destination = text(p.property(['destination', 'address']).data);
    got.mtls = Array.from(p.property(['connection', 'mtls']).data);
    const port = p.property(['source', 'port']).data;
    got.port = Number(new DataView(port.buffer, port.byteOffset).getBigInt64(0, true));
    got.time = p.property(['request', 'time']).data.length;
    got.dotted = p.property(['request.path']).result;
    got.dottedNode = p.property(['xds.node.id']).result;
    got.node = text(p.property(['xds', 'node', 'id']).data);
    got.plugin = text(p.property(['plugin_name']).data);
    got.vmId = text(p.property(['plugin_vm_id']).data);
    got.missing = p.property(['nope']).result;
    const [k, kl] = p.put('my_prop');
    const [v, vl] = p.put('val');
    got.set = p.call('set_property', k, kl, v, vl);
    got.readBack = text(p.property(['my_prop']).data);
    got.subPath = p.property(['my_prop', 'x']).result;
  });
  await t.host.request({ method: 'GET', path: '/v1/x?a=1&b=2', authority: 'api.test', headers: { 'x-api-key': 'k' }, source: '10.1.2.3:5555' });
  assert.deepEqual(got, {
    path: '/v1/x?a=1&b=2', urlPath: '/v1/x', query: 'a=1&b=2', method: 'GET', host: 'api.test', header: 'k',
    source: '10.1.2.3:5555', destination: '127.0.0.1:8080', mtls: [0], port: 5555, time: 8, dotted: 1, dottedNode: 1, node: 'sidecar~10.0.0.1~shop.ns~ns.svc.cluster.local',
    plugin: 'test.plugin', vmId: 'vm1', missing: 1, set: 0, readBack: 'val', subPath: 1,
  });
  await t.host.close();
});

test('out-of-bounds pointers return InvalidMemoryAccess (6) instead of trapping', async () => {
  const t = await probeHost();
  const codes: number[] = [];
  t.on('proxy_on_request_headers', (p) => {
    const huge = 0x7fffff00;
    codes.push(p.call('log', 2, huge, 100));
    codes.push(p.call('log', 9, huge, 100) === 2 ? 6 : -1); // level is checked first (BadArgument)
    codes.push(p.call('get_header_map_value', 0, huge, 4, 0, 4));
    codes.push(p.call('get_header_map_pairs', 0, huge, huge));
    codes.push(p.call('get_current_time_nanoseconds', huge));
    codes.push(p.call('set_shared_data', huge, 3, 0, 1, 0));
    codes.push(p.call('http_call', huge, 1, 0, 0, 0, 0, 0, 0, 0, 0));
    // Like the log level, a header map type is checked before memory: a bad type is BadArgument whatever the pointers.
    badType.push(...['get_header_map_value', 'add_header_map_value', 'replace_header_map_value'].map((f) => p.call(f, 8, huge, 4, huge, 4)));
    badType.push(p.call('remove_header_map_value', 8, huge, 4), p.call('set_header_map_pairs', 8, huge, 4), p.call('get_header_map_size', 8, huge));
  });
  const badType: number[] = [];
  const r = await t.host.request({ method: 'GET', path: '/' });
  assert.deepEqual(codes, [6, 6, 6, 6, 6, 6, 6]);
  assert.deepEqual(badType, [2, 2, 2, 2, 2, 2]);
  assert.equal(r.status, 200, 'the stream continues: no trap');
  await t.host.close();
});

test('hostCalls counts the host functions a stream called', async () => {
  const t = await probeHost();
  t.on('proxy_on_request_headers', (p) => {
    p.log(2, 'one');
    p.log(2, 'two');
    p.getHeader(0, ':path');
  });
  const r = await t.host.request({ method: 'GET', path: '/' });
  assert.equal(r.hostCalls.proxy_log, 2);
  assert.equal(r.hostCalls.proxy_get_header_map_value, 1);
  void utf8;
  await t.host.close();
});

test('StopIterationAndBuffer at end of stream holds the body until continue_stream', async () => {
  const t = await probeHost();
  let streamId = 0;
  t.on('proxy_on_request_body', (p, args) => {
    streamId = args[0]!;
    p.vm.fn('set_ret')!(1);
  });
  const vm = t.host.vms().workers[0]!;
  let forwarded = false;
  const pending = t.host.request({ method: 'POST', path: '/', body: 'payload', worker: 0 }, (u) => {
    forwarded = true;
    return { status: 200, headers: [], body: text(u.body) };
  });
  await t.host.advance(5);
  assert.equal(forwarded, false);
  t.on('proxy_on_tick', (p) => {
    p.vm.fn('set_ret')!(0);
    assert.equal(p.call('set_effective_context', streamId), 0);
    assert.equal(p.call('continue_stream', 0), 0);
  });
  vm.call('proxy_on_tick', [1], { contextId: 1 });
  const r = await pending;
  assert.equal(text(r.body), 'payload');
  await t.host.close();
});

test('an unreachable upstream becomes the router\'s 503 local reply, which still passes the response callbacks', async () => {
  const t = await probeHost();
  t.calls.length = 0;
  const r = await t.host.request({ method: 'GET', path: '/', worker: 0 }, () => {
    throw new Error('connection refused');
  });
  assert.equal(r.status, 503);
  assert.equal(r.localReply, true);
  assert.equal(r.details, 'upstream_reset_before_response_started{connection_failure}');
  assert.match(text(r.body), /^upstream connect error or disconnect\/reset before headers/);
  assert.ok(r.upstreamRequest !== undefined);
  assert.ok(t.calls.includes('worker0:proxy_on_response_headers(2,3,0)'));
  assert.ok(t.calls.includes('worker0:proxy_on_delete(2)'));
  await t.host.close();
});

test('request headers over Envoy\'s codec limits get 431 before the filter; the guest sees create → log → done → delete', async () => {
  const t = await probeHost({ enforceHeaderLimits: true });
  const many = Object.fromEntries(Array.from({ length: 101 }, (_, n) => [`x-h${n}`, 'v']));
  t.calls.length = 0;
  let upstream = false;
  const r = await t.host.request({ method: 'GET', path: '/', headers: many, worker: 0 }, () => {
    upstream = true;
    return { status: 200, headers: [] };
  });
  assert.deepEqual([r.status, r.details, r.localReply, upstream], [431, 'http1.too_many_headers', true, false]);
  assert.deepEqual(t.calls.map((c) => c.split('(')[0]), ['worker0:proxy_on_context_create', 'worker0:proxy_on_log',
    'worker0:proxy_on_done', 'worker0:proxy_on_delete']);
  const big = await t.host.request({ method: 'GET', path: '/', headers: { 'x-big': 'a'.repeat(61 * 1024) } });
  assert.deepEqual([big.status, big.details], [431, 'http1.headers_too_large']);
  // 100 headers (x-forwarded-proto and x-request-id included) are fine
  const fits = Object.fromEntries(Array.from({ length: 98 }, (_, n) => [`x-h${n}`, 'v']));
  assert.equal((await t.host.request({ method: 'GET', path: '/', headers: fits })).status, 200);
  await t.host.close();
});

test('without enforceHeaderLimits request() lets large headers reach the filter (as a raised Envoy limit would)', async () => {
  const t = await probeHost();
  const r = await t.host.request({ method: 'GET', path: '/', headers: { 'x-big': 'a'.repeat(70_000) } });
  assert.equal(r.status, 200);
  await t.host.close();
});

test('pseudo-headers stay ahead of regular headers when added, replaced or set as pairs', async () => {
  const t = await probeHost();
  const seen: Array<Array<[string, string]>> = [];
  t.on('proxy_on_request_headers', (p) => {
    const [k, kl] = p.put(':x-extra');
    const [v, vl] = p.put('1');
    p.call('add_header_map_value', 0, k, kl, v, vl);
    seen.push(p.pairs(0).pairs.slice(0, 5).map(([a]) => [a, ''] as [string, string]));
    const [h, hl] = p.put(encodePairs([['x-a', '1'], [':method', 'PUT'], ['x-b', '2'], [':path', '/p']]));
    p.call('set_header_map_pairs', 0, h, hl);
    seen.push(p.pairs(0).pairs);
  });
  await t.host.request({ method: 'GET', path: '/', headers: { 'x-first': '1' } });
  assert.deepEqual(seen[0]!.map(([k]) => k), [':authority', ':path', ':method', ':scheme', ':x-extra']);
  assert.deepEqual(seen[1], [[':method', 'PUT'], [':path', '/p'], ['x-a', '1'], ['x-b', '2']]);
  await t.host.close();
});
