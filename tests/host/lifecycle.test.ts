// Ticks on every VM (main thread included), ECDS-like reconfiguration (accepted and rejected, root shutdown with
// on_done/proxy_done), and the three fail strategies after a trap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeHost, text, type Script } from './helpers.js';

const tickEvery = (ms: number): Script => (p) => {
  assert.equal(p.call('set_tick_period_milliseconds', ms), 0);
};

test('ticks: per root context on every worker VM and the main thread, first tick one period later, 0 disables', async () => {
  const t = await probeHost({ workers: 2 }, {}, { proxy_on_configure: tickEvery(100) });
  const { workers, main } = t.host.vms();
  const vms = [...workers, main!];
  await t.host.advance(99);
  assert.deepEqual(vms.map((vm) => Number(vm.fn('ticks')!())), [0, 0, 0]);
  await t.host.advance(251);
  assert.deepEqual(vms.map((vm) => Number(vm.fn('ticks')!())), [3, 3, 3]);
  assert.ok(!t.calls.some((c) => c.startsWith('canary:proxy_on_tick')), 'the dropped canary gets no ticks');
  t.on('proxy_on_tick', (p) => {
    if (p.vm === main) assert.equal(p.call('set_tick_period_milliseconds', 0), 0);
  });
  await t.host.advance(100);
  await t.host.advance(500);
  assert.deepEqual(vms.map((vm) => Number(vm.fn('ticks')!())), [9, 9, 4]);
  await t.host.close();
});

test('ticks with the real clock fire on real timers; get_current_time_nanoseconds follows the wall clock', async () => {
  const t = await probeHost({ clock: 'real', workers: 1 }, {}, { proxy_on_configure: tickEvery(5) });
  const main = t.host.vms().main!;
  for (let i = 0; i < 200 && Number(main.fn('ticks')!()) < 2; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(Number(main.fn('ticks')!()) >= 2);
  let ns = 0n;
  t.on('proxy_on_request_headers', (p) => {
    const slot = p.alloc(8);
    p.call('get_current_time_nanoseconds', slot);
    ns = p.u64(slot);
  });
  const before = BigInt(Date.now()) * 1_000_000n;
  await t.host.request({ method: 'GET', path: '/' });
  assert.ok(ns >= before && ns <= BigInt(Date.now()) * 1_000_000n);
  await t.host.close();
});

test('reconfigure: canary first, new root in the same VMs (globals survive), old root done → delete after its streams', async () => {
  const t = await probeHost({ workers: 1 }, { pluginConfig: 'v1' }, { proxy_on_configure: tickEvery(10) });
  const worker = t.host.vms().workers[0]!;
  await t.host.advance(30);
  assert.equal(Number(worker.fn('ticks')!()), 3);
  const open = await t.host.openStream({ method: 'GET', path: '/old', worker: 0 });
  t.calls.length = 0;
  t.on('proxy_on_configure', (p, args) => {
    assert.equal(text(p.get('get_buffer_bytes', 7, 0, 100).data), 'v2');
    assert.equal(args[1], 2);
  });
  await t.host.reconfigure('v2');
  assert.equal(t.host.vms().workers[0], worker, 'same VM object');
  assert.equal(Number(worker.fn('ticks')!()), 3, 'in-VM state survives');
  assert.deepEqual(t.calls.filter((c) => c.startsWith('worker0:')), [
    'worker0:proxy_on_context_create(3,0)', 'worker0:proxy_on_vm_start(3,0)', 'worker0:proxy_on_configure(3,2)',
  ], 'new root (id 3: stream 2 is still open); old root kept while its stream runs');
  assert.equal(t.calls[0], 'canary:proxy_on_context_create(1,0)');
  t.calls.length = 0;
  await open.finish();
  assert.deepEqual(t.calls.filter((c) => /on_done|on_delete/.test(c)), [
    'worker0:proxy_on_done(2)', 'worker0:proxy_on_delete(2)', 'worker0:proxy_on_done(1)', 'worker0:proxy_on_delete(1)',
  ]);
  t.calls.length = 0;
  await t.host.request({ method: 'GET', path: '/new', worker: 0 });
  assert.equal(t.calls[0], 'worker0:proxy_on_context_create(4,3)', 'new streams use the new root');
  assert.equal(t.host.stats().configGeneration, 2);
  assert.deepEqual(t.host.events().map((e) => e.kind), ['config_applied', 'config_applied']);
  await t.host.close();
});

test('reconfigure: on_done false keeps the old root pending until it calls proxy_done', async () => {
  const t = await probeHost({ workers: 1 });
  const worker = t.host.vms().workers[0]!;
  worker.fn('set_on_done')!(0);
  t.calls.length = 0;
  await t.host.reconfigure('{"v":2}');
  assert.ok(t.calls.includes('worker0:proxy_on_done(1)'));
  assert.ok(!t.calls.includes('worker0:proxy_on_delete(1)'));
  t.on('proxy_on_tick', (p) => assert.equal(p.call('done'), 0));
  worker.call('proxy_on_tick', [1], { contextId: 1 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(t.calls.includes('worker0:proxy_on_delete(1)'));
  await t.host.close();
});

test('reconfigure rejected by the canary: ConfigRejectedError, the old configuration keeps serving', async () => {
  const t = await probeHost({ workers: 1 });
  t.on('proxy_on_configure', (p) => {
    if (text(p.get('get_buffer_bytes', 7, 0, 100).data) === 'bad') p.vm.fn('t_trap')!();
  });
  await assert.rejects(t.host.reconfigure('bad'), (err: Error) => err.name === 'ConfigRejectedError' && /canary/.test(err.message));
  t.calls.length = 0;
  const r = await t.host.request({ method: 'GET', path: '/' });
  assert.equal(r.status, 200);
  assert.equal(t.calls[0], 'worker0:proxy_on_context_create(2,1)');
  assert.deepEqual(t.host.stats(), { vmFailures: 0, failClosedReplies: 0, failOpenBypasses: 0, reloads: 0, configRejections: 1, configGeneration: 1 });
  assert.equal(t.host.events().at(-1)?.kind, 'config_rejected');
  await t.host.close();
});

const trapOn = (path: string): Script => (p) => {
  if (p.getHeader(0, ':path').value === path) p.vm.fn('t_trap')!();
};

test('FAIL_CLOSE: the trapping stream and every later stream on that worker get 503 wasm_fail_stream until a config change', async () => {
  const t = await probeHost({ workers: 2 });
  t.on('proxy_on_request_headers', trapOn('/boom'));
  let upstreamCalls = 0;
  const upstream = () => {
    upstreamCalls++;
    return { status: 200, headers: [] };
  };
  const r1 = await t.host.request({ method: 'GET', path: '/boom', worker: 0 }, upstream);
  assert.deepEqual([r1.status, r1.details, r1.localReply, r1.body.length], [503, 'wasm_fail_stream', true, 0]);
  t.calls.length = 0;
  const r2 = await t.host.request({ method: 'GET', path: '/fine', worker: 0 }, upstream);
  assert.deepEqual([r2.status, r2.details], [503, 'wasm_fail_stream']);
  assert.equal(t.calls.length, 0, 'the failed VM is not called');
  const r3 = await t.host.request({ method: 'GET', path: '/fine', worker: 1 }, upstream);
  assert.equal(r3.status, 200, 'other workers are unaffected');
  assert.equal(upstreamCalls, 1);
  const s = t.host.stats();
  assert.deepEqual([s.vmFailures, s.failClosedReplies], [1, 2]);
  assert.deepEqual(t.host.events().filter((e) => e.kind === 'vm_failed').map((e) => e.kind === 'vm_failed' && e.vm), ['worker0']);
  assert.match(t.host.prometheus(), /^tollgate_host_fail_closed_replies_total 2$/m);
  await t.host.reconfigure('{}');
  const r4 = await t.host.request({ method: 'GET', path: '/fine', worker: 0 }, upstream);
  assert.equal(r4.status, 200, 'a config change replaces the failed VM');
  await t.host.close();
});

test('FAIL_OPEN: the trapping stream continues to the upstream; later streams on that worker skip the filter', async () => {
  const t = await probeHost({ workers: 1 }, { failStrategy: 'FAIL_OPEN' });
  t.on('proxy_on_request_headers', trapOn('/boom'));
  const r1 = await t.host.request({ method: 'POST', path: '/boom', body: 'b' });
  assert.equal(r1.status, 200);
  assert.equal(text(r1.upstreamRequest!.body), 'b');
  t.calls.length = 0;
  const r2 = await t.host.request({ method: 'GET', path: '/next' });
  assert.equal(r2.status, 200);
  assert.equal(r2.localReply, false);
  assert.equal(t.calls.length, 0);
  assert.deepEqual([t.host.stats().vmFailures, t.host.stats().failOpenBypasses], [1, 2]);
  await t.host.close();
});

test('FAIL_RELOAD: 503 until the back-off passes, then a fresh VM (start, root configured again); shared data kept', async () => {
  const t = await probeHost({ workers: 1, reloadBackoffMs: 1000 }, { failStrategy: 'FAIL_RELOAD' });
  t.on('proxy_on_request_headers', (p) => {
    const [k, kl] = p.put('kept');
    const [v, vl] = p.put('yes');
    p.call('set_shared_data', k, kl, v, vl, 0);
    if (p.getHeader(0, ':path').value === '/boom') p.vm.fn('t_trap')!();
  });
  const old = t.host.vms().workers[0]!;
  await t.host.request({ method: 'GET', path: '/x' });
  assert.ok(Number(old.fn('malloc_calls')!()) > 0);
  assert.equal((await t.host.request({ method: 'GET', path: '/boom' })).status, 503);
  await t.host.advance(999);
  assert.equal((await t.host.request({ method: 'GET', path: '/x' })).status, 503);
  await t.host.advance(1);
  t.calls.length = 0;
  t.on('proxy_on_request_headers', undefined);
  const r = await t.host.request({ method: 'GET', path: '/x' });
  assert.equal(r.status, 200);
  const fresh = t.host.vms().workers[0]!;
  assert.notEqual(fresh, old);
  assert.equal(Number(fresh.fn('malloc_calls')!()), 0, 'in-VM state is lost');
  assert.deepEqual(t.calls.slice(0, 4), ['worker0:proxy_on_context_create(1,0)', 'worker0:proxy_on_vm_start(1,0)',
    'worker0:proxy_on_configure(1,2)', 'worker0:proxy_on_context_create(2,1)']);
  assert.equal(text(t.host.sharedData('vm1').get('kept')!.value), 'yes');
  assert.equal(t.host.stats().reloads, 1);
  assert.ok(t.host.events().some((e) => e.kind === 'vm_reloaded' && e.vm === 'worker0'));
  await t.host.close();
});

test('FAIL_RELOAD: the back-off counts from the VM\'s last load (as Envoy\'s handle last_load), not from the trap', async () => {
  const t = await probeHost({ workers: 1, reloadBackoffMs: 1000 }, { failStrategy: 'FAIL_RELOAD' });
  t.on('proxy_on_request_headers', (p) => {
    if (p.getHeader(0, ':path').value === '/boom') p.vm.fn('t_trap')!();
  });
  await t.host.advance(5000); // the worker VM has been up for longer than the back-off
  const old = t.host.vms().workers[0]!;
  assert.equal((await t.host.request({ method: 'GET', path: '/boom' })).status, 503);
  assert.equal((await t.host.request({ method: 'GET', path: '/x' })).status, 200, 'rebuilt on the very next request');
  const fresh = t.host.vms().workers[0]!;
  assert.notEqual(fresh, old);
  // The rebuilt VM traps at once: now the back-off (from the reload) applies in full.
  assert.equal((await t.host.request({ method: 'GET', path: '/boom' })).status, 503);
  await t.host.advance(999);
  assert.equal((await t.host.request({ method: 'GET', path: '/x' })).status, 503);
  await t.host.advance(1);
  assert.equal((await t.host.request({ method: 'GET', path: '/x' })).status, 200);
  assert.equal(t.host.stats().reloads, 2);
  await t.host.close();
});

test('a trap in a root callback (tick) fails the VM: the next stream on it gets 503', async () => {
  const t = await probeHost({ workers: 1 });
  t.on('proxy_on_tick', (p) => p.vm.fn('t_trap')!());
  const worker = t.host.vms().workers[0]!;
  assert.throws(() => worker.call('proxy_on_tick', [1], { contextId: 1 }), { name: 'VmTrap' });
  assert.equal(worker.failed, true);
  const r = await t.host.request({ method: 'GET', path: '/' });
  assert.deepEqual([r.status, r.details], [503, 'wasm_fail_stream']);
  await t.host.close();
});

test('FAIL_CLOSE: a trap in a response callback replaces the upstream response with 503 wasm_fail_stream', async () => {
  const t = await probeHost({ workers: 1 });
  t.on('proxy_on_response_headers', (p) => p.vm.fn('t_trap')!());
  const r = await t.host.request({ method: 'GET', path: '/' }, () => ({ status: 200, headers: [['x-up', '1']], body: 'upstream body' }));
  assert.deepEqual([r.status, r.details, r.body.length, r.localReply], [503, 'wasm_fail_stream', 0, true]);
  assert.ok(r.upstreamRequest !== undefined, 'the request did reach the upstream');
  await t.host.close();
});

test('the canary verdict is cached per configuration; updates apply in call order', async () => {
  const t = await probeHost({ workers: 1 }, { pluginConfig: 'a' });
  t.on('proxy_on_configure', (p) => {
    if (text(p.get('get_buffer_bytes', 7, 0, 100).data) === 'bad') p.vm.fn('t_trap')!();
  });
  t.calls.length = 0;
  await Promise.all([t.host.reconfigure('bb'), t.host.reconfigure('a')]);
  const canaryRuns = t.calls.filter((c) => c.startsWith('canary:proxy_on_configure'));
  assert.deepEqual(canaryRuns, ['canary:proxy_on_configure(1,2)'], 'only the new configuration "bb" ran a canary; "a" was known good');
  assert.deepEqual(t.calls.filter((c) => c.startsWith('worker0:proxy_on_configure')),
    ['worker0:proxy_on_configure(2,2)', 'worker0:proxy_on_configure(3,1)'], 'applied in call order');
  t.calls.length = 0;
  await t.host.request({ method: 'GET', path: '/' });
  assert.equal(t.calls[0], 'worker0:proxy_on_context_create(4,3)', 'streams use the root of the last update');
  await assert.rejects(t.host.reconfigure('bad'), /canary/);
  t.calls.length = 0;
  await assert.rejects(t.host.reconfigure('bad'), /canary/);
  assert.equal(t.calls.length, 0, 'a known-bad configuration is refused without running anything');
  assert.equal(t.host.stats().configRejections, 2);
  await t.host.close();
});
