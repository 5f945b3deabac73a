// Shared data (CAS), shared queues, metrics and the remaining small host functions, with Envoy's return codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeHost, text, utf8, type Probe } from './helpers.js';
import { SharedStore } from '../../host/runtime/shared-store.js';

function setShared(p: Probe, key: string, value: string, cas: number): number {
  const [k, kl] = p.put(key);
  const [v, vl] = p.put(value);
  return p.call('set_shared_data', k, kl, v, vl, cas);
}

function getShared(p: Probe, key: string): { result: number; value: string; cas: number } {
  const [k, kl] = p.put(key);
  const slots = p.outSlots();
  const casSlot = p.alloc(4);
  p.vm.memory.write(casSlot, new Uint8Array([0xaa, 0xaa, 0xaa, 0xaa]));
  const result = p.call('get_shared_data', k, kl, slots[0], slots[1], casSlot);
  return { result, value: result === 0 ? text(p.readOut(slots)) : '', cas: p.u32(casSlot) };
}

test('shared data: NotFound leaves cas unwritten; cas 0 is unconditional; stale cas → CasMismatch; missing key ignores cas', async () => {
  const t = await probeHost();
  const r: Record<string, unknown> = {};
  t.on('proxy_on_request_headers', (p) => {
    const missing = getShared(p, 'k');
    r.missing = [missing.result, missing.cas];
    r.insertWithBogusCas = setShared(p, 'k', 'v1', 12345);
    const first = getShared(p, 'k');
    r.first = [first.result, first.value];
    r.casNonZero = first.cas !== 0;
    r.stale = setShared(p, 'k', 'v2', first.cas + 1000);
    r.ok = setShared(p, 'k', 'v2', first.cas);
    const second = getShared(p, 'k');
    r.second = second.value;
    r.casAdvanced = second.cas > first.cas;
    r.reuseOld = setShared(p, 'k', 'v3', first.cas);
    r.unconditional = setShared(p, 'k', 'v4', 0);
  });
  await t.host.request({ method: 'GET', path: '/' });
  assert.deepEqual(r, {
    missing: [1, 0xaaaaaaaa], insertWithBogusCas: 0, first: [0, 'v1'], casNonZero: true, stale: 8, ok: 0, second: 'v2',
    casAdvanced: true, reuseOld: 8, unconditional: 0,
  });
  assert.equal(text(t.host.sharedData('vm1').get('k')!.value), 'v4');
  await t.host.close();
});

test('the CAS counter is one for every vm_id and skips 0 when it wraps (a cas of 0 would mean "unconditional")', () => {
  const store = new SharedStore();
  const v = utf8.encode('x');
  assert.equal(store.set('a', 'k', v, 0), 0);
  assert.equal(store.set('b', 'k', v, 0), 0);
  assert.deepEqual([store.get('a', 'k')!.cas, store.get('b', 'k')!.cas], [1, 2], 'one counter across vm_ids');
  (store as unknown as { casCounter: number }).casCounter = 0xfffffffe;
  store.set('a', 'k', v, 0);
  assert.equal(store.get('a', 'k')!.cas, 0xffffffff);
  store.set('a', 'k', v, 0);
  assert.equal(store.get('a', 'k')!.cas, 1, 'wraps past 0');
  assert.equal(store.set('a', 'k', v, 0xffffffff), 8, 'the old cas is stale');
});

test('shared data is process-wide per vm_id: the canary\'s writes are visible to workers and the main thread', async () => {
  const t = await probeHost({}, {}, {
    proxy_on_configure: (p) => {
      if (p.vm.label === 'canary') assert.equal(setShared(p, 'from-canary', 'hello', 0), 0);
      else assert.equal(getShared(p, 'from-canary').value, 'hello');
    },
  });
  assert.equal(t.host.sharedData('vm1').size, 1);
  assert.equal(t.host.sharedData('other').size, 0, 'partitioned by vm_id');
  await t.host.close();
});

test('shared queues: register/resolve/enqueue/dequeue codes; the last registrant gets on_queue_ready', async () => {
  const t = await probeHost();
  const { workers } = t.host.vms();
  const r: Record<string, unknown> = {};
  let token = 0;
  t.on('proxy_on_tick', (p) => {
    const [n, nl] = p.put('jobs');
    const slot = p.alloc(4);
    if (p.vm === workers[0]) {
      r.register0 = p.call('register_shared_queue', n, nl, slot);
      token = p.u32(slot);
    } else {
      r.register1 = p.call('register_shared_queue', n, nl, slot);
      r.sameToken = p.u32(slot) === token;
      const [vid, vidl] = p.put('vm1');
      r.resolve = p.call('resolve_shared_queue', vid, vidl, n, nl, slot);
      const [x, xl] = p.put('nope');
      r.resolveMissing = p.call('resolve_shared_queue', vid, vidl, x, xl, slot);
      r.dequeueEmpty = p.get('dequeue_shared_queue', token).result;
      r.dequeueUnknown = p.get('dequeue_shared_queue', 9999).result;
      const [d, dl] = p.put('item-1');
      r.enqueue = p.call('enqueue_shared_queue', token, d, dl);
      r.enqueueUnknown = p.call('enqueue_shared_queue', 9999, d, dl);
      const got = p.get('dequeue_shared_queue', token);
      r.dequeue = [got.result, text(got.data)];
      r.enqueue2 = p.call('enqueue_shared_queue', token, d, dl);
    }
  });
  workers[0]!.call('proxy_on_tick', [1], { contextId: 1 });
  workers[1]!.call('proxy_on_tick', [1], { contextId: 1 });
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(r, {
    register0: 0, register1: 0, sameToken: true, resolve: 0, resolveMissing: 1, dequeueEmpty: 7, dequeueUnknown: 1,
    enqueue: 0, enqueueUnknown: 1, dequeue: [0, 'item-1'], enqueue2: 0,
  });
  assert.equal(Number(workers[0]!.fn('queue_ready')!()), 0);
  assert.equal(Number(workers[1]!.fn('queue_ready')!()), 2, 'each enqueue notifies the last registrant');
  await t.host.close();
});

test('metrics: ids per VM and type, process-wide stats, Envoy\'s codes, prometheus() naming', async () => {
  const t = await probeHost();
  const ids: Record<string, number[]> = {};
  const r: Record<string, number> = {};
  t.on('proxy_on_request_headers', (p) => {
    const define = (type: number, name: string) => {
      const [n, nl] = p.put(name);
      const slot = p.alloc(4);
      const res = p.call('define_metric', type, n, nl, slot);
      return res === 0 ? p.u32(slot) : -res;
    };
    const label = p.vm.label;
    const c = define(0, 'tollgate.requests');
    const g = define(1, 'tollgate.inflight');
    const h = define(2, 'tollgate.latency-ms');
    const c2 = define(0, 'tollgate.denied');
    define(0, '9lives'); // not a valid Prometheus name once the namespace is stripped: Envoy leaves it out
    ids[label] = [c, g, h, c2];
    r.badType = define(3, 'x');
    r.incCounter = p.call('increment_metric', c, 2n);
    r.incZero = p.call('increment_metric', c, 0n);
    r.incNegative = p.call('increment_metric', c, -1n);
    r.gaugeInc = p.call('increment_metric', g, 5n);
    r.gaugeDec = p.call('increment_metric', g, -2n);
    r.histInc = p.call('increment_metric', h, 1n);
    r.record = p.call('record_metric', h, 40n);
    r.recordCounter = p.call('record_metric', c2, 3n);
    const slot = p.alloc(8);
    r.getHist = p.call('get_metric', h, slot);
    r.getUnknown = p.call('get_metric', 4000, slot);
    r.getUnknownHist = p.call('get_metric', 4002, slot);
    r.incUnknown = p.call('increment_metric', 4000, 1n);
    r.incUnknownHist = p.call('increment_metric', 4002, 1n);
    r.recordUnknown = p.call('record_metric', 4002, 1n);
    r.getCounter = p.call('get_metric', c, slot);
    r.counterValue = Number(p.u64(slot));
  });
  await t.host.request({ method: 'GET', path: '/', worker: 0 });
  await t.host.request({ method: 'GET', path: '/', worker: 1 });
  assert.deepEqual(ids, { worker0: [4, 5, 6, 8], worker1: [4, 5, 6, 8] });
  assert.deepEqual(r, {
    badType: -2, incCounter: 0, incZero: 2, incNegative: 2, gaugeInc: 0, gaugeDec: 0, histInc: 2, record: 0,
    recordCounter: 0, getHist: 2, getUnknown: 1, getCounter: 0, counterValue: 4,
    // Envoy checks the id's type bits before looking it up: histogram-typed ids → BadArgument even when unknown.
    getUnknownHist: 2, incUnknown: 1, incUnknownHist: 2, recordUnknown: 1,
  });
  const byName = Object.fromEntries(t.host.metrics().map((m) => [m.name, m]));
  assert.equal(byName['tollgate.requests']!.value, 4, 'counters from both workers add up');
  assert.equal(byName['tollgate.inflight']!.value, 6);
  assert.deepEqual([byName['tollgate.latency-ms']!.value, byName['tollgate.latency-ms']!.count], [80, 2]);
  assert.equal(byName['tollgate.denied']!.value, 6);
  const prom = t.host.prometheus();
  assert.match(prom, /^tollgate_requests 4$/m);
  assert.match(prom, /^tollgate_latency_ms_count 2$/m);
  assert.match(prom, /^tollgate_host_vm_failures_total 0$/m);
  assert.doesNotMatch(prom, /wasmcustom/);
  assert.doesNotMatch(prom, /9lives/);
  assert.ok(t.host.metrics().some((m) => m.name === '9lives'), 'the stat itself exists');
  await t.host.close();
});

test('misc host functions: log levels, get_log_level, time, foreign functions, gRPC, done, status', async () => {
  const t = await probeHost({ logLevel: 'debug', startTimeMs: 1_700_000_000_000 });
  const r: Record<string, unknown> = {};
  t.on('proxy_on_request_headers', (p) => {
    r.log = p.log(3, 'careful');
    r.badLevel = p.log(6, 'x');
    const slot = p.alloc(8);
    r.getLevel = p.call('get_log_level', slot);
    r.level = p.u32(slot);
    r.time = p.call('get_current_time_nanoseconds', slot);
    r.ns = p.u64(slot);
    const [n, nl] = p.put('compress');
    r.foreign = p.call('call_foreign_function', n, nl, 0, 0, ...p.outSlots());
    r.grpcCall = p.call('grpc_call', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, slot);
    r.grpcStream = p.call('grpc_stream', 0, 0, 0, 0, 0, 0, 0, 0, slot);
    r.grpcSend = p.call('grpc_send', 2, 0, 0, 0);
    r.grpcSendCallId = p.call('grpc_send', 1, 0, 0, 0);
    r.grpcCancel = p.call('grpc_cancel', 1);
    r.grpcClose = p.call('grpc_close', 2);
    r.grpcCloseHttpToken = p.call('grpc_close', 4);
    r.done = p.call('done');
    const status = p.alloc(4);
    r.status = p.call('get_status', status, ...p.outSlots());
    r.statusCode = p.u32(status);
    r.pthreadEqual = [p.call('pthread_equal', 7, 7), p.call('pthread_equal', 7, 8)];
    r.memoryGrowth = p.call('emscripten_notify_memory_growth', 0);
  });
  await t.host.request({ method: 'GET', path: '/' });
  assert.deepEqual(r, {
    log: 0, badLevel: 2, getLevel: 0, level: 1, time: 0, ns: 1_700_000_000_000n * 1_000_000n, foreign: 1, grpcCall: 2,
    grpcStream: 2, grpcSend: 1, grpcSendCallId: 2, grpcCancel: 1, grpcClose: 1, grpcCloseHttpToken: 2, done: 1, status: 0, statusCode: 0,
    pthreadEqual: [1, 0], memoryGrowth: 0,
  });
  assert.ok(t.logs.some((l) => l.level === 'warn' && l.message === 'careful'));
  await t.host.close();
});

test('WASI: fd_write routing, errno for other fds, fd_read 52, clock ids, random_get limit, environ, proc_exit returns', async () => {
  const t = await probeHost({}, { env: { TOLLGATE_MODE: 'test' } });
  const r: Record<string, unknown> = {};
  t.on('proxy_on_request_headers', (p) => {
    const [s, sl] = p.put('to stderr\n\n');
    const iov = p.alloc(8);
    p.vm.memory.write(iov, new Uint8Array(new Uint32Array([s, sl]).buffer));
    const n = p.alloc(4);
    r.stderr = p.call('wasi_fd_write', 2, iov, 1, n);
    r.written = p.u32(n);
    r.badFd = p.call('wasi_fd_write', 3, iov, 1, n);
    r.read = p.call('wasi_fd_read', 0, iov, 1, n);
    const stat = p.alloc(24);
    r.fdstat = p.call('wasi_fd_fdstat_get', 1, stat);
    r.rightsBase = p.u32(stat + 8);
    r.fdstatBadFd = p.call('wasi_fd_fdstat_get', 5, stat);
    r.seek = p.call('wasi_fd_seek', 1, 0n, 0, n);
    r.close = p.call('wasi_fd_close', 1);
    r.pathOpen = p.call('wasi_path_open', 3, 0, 0, 0, 0, 0n, 0n, 0, n);
    const ts = p.alloc(8);
    r.wall = p.call('wasi_clock_time_get', 0, 0n, ts);
    r.mono = p.call('wasi_clock_time_get', 1, 0n, ts);
    r.cpu = p.call('wasi_clock_time_get', 2, 0n, ts);
    const buf = Number(p.vm.fn('malloc')!(70000));
    r.random = p.call('wasi_random_get', buf, 65536);
    r.randomTooBig = p.call('wasi_random_get', buf, 65537);
    r.randomEmptyAnywhere = p.call('wasi_random_get', 0x7ffffff0, 0);
    r.randomOutOfBounds = p.call('wasi_random_get', 0x7ffffff0, 16);
    const sizes = p.alloc(8);
    r.environSizes = p.call('wasi_environ_sizes_get', sizes, sizes + 4);
    r.environ = [p.u32(sizes), p.u32(sizes + 4)];
    const ptrs = p.alloc(8);
    const envBuf = p.alloc(64);
    p.call('wasi_environ_get', ptrs, envBuf);
    r.environValue = text(p.vm.memory.read(p.u32(ptrs), p.u32(sizes + 4) - 1));
    r.args = p.call('wasi_args_sizes_get', sizes, sizes + 4);
    r.argc = p.u32(sizes);
    p.call('wasi_proc_exit', 3);
    r.afterExit = true;
  });
  const res = await t.host.request({ method: 'GET', path: '/' });
  assert.equal(res.status, 200);
  assert.deepEqual(r, {
    stderr: 0, written: 11, badFd: 8, read: 52, fdstat: 0, rightsBase: 64, fdstatBadFd: 8, seek: 0, close: 0, pathOpen: 44, wall: 0, mono: 0, cpu: 58, random: 0,
    randomTooBig: 28, randomEmptyAnywhere: 0, randomOutOfBounds: 21, environSizes: 0, environ: [1, 'TOLLGATE_MODE=test'.length + 1], environValue: 'TOLLGATE_MODE=test', args: 0,
    argc: 0, afterExit: true,
  });
  assert.ok(t.logs.some((l) => l.level === 'error' && l.message === 'to stderr\n'), 'one trailing newline stripped');
  // Envoy's Context::error: trace-level lines, and the call returns.
  for (const name of ['fd_seek', 'fd_close', 'proc_exit']) {
    assert.ok(t.logs.some((l) => l.level === 'trace' && l.message === `wasi_unstable ${name}`), name);
  }
  void utf8;
  await t.host.close();
});
