// Loading like Envoy: ABI export detection, strict import linking (name and signature), the restricted start phase,
// the allocator lookup order, and the canary (rejects bad configurations before any worker serves).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigRejectedError } from '../../host/index.js';
import { newHost, probeHost, spec } from './helpers.js';

test('a module without a proxy_abi_version export is refused', async () => {
  const { host } = newHost();
  await assert.rejects(host.load(spec('no-abi.wasm')), (err: Error) => err instanceof ConfigRejectedError && /abi_version/.test(err.message));
  assert.equal(host.stats().configRejections, 1);
  await host.close();
});

test('an older ABI version export (0_1_0) is detected and linked against the host functions every version has', async () => {
  const { host, logs } = newHost();
  await host.load(spec('abi-0-1-0.wasm'));
  assert.equal(logs.filter((l) => l.message === 'old abi').length, 4, 'canary, 2 workers, main configured');
  await host.close();
});

test('an import the 0.2.1 host does not provide fails the load ("missing import")', async () => {
  const { host } = newHost();
  await assert.rejects(host.load(spec('unknown-import.wasm')), /missing import: env\.proxy_get_configuration/);
  await host.close();
});

test('host functions newer than the module\'s ABI are not linked (get_log_level needs 0.2.1)', async () => {
  const { host } = newHost();
  await assert.rejects(host.load(spec('abi-0-2-0-log-level.wasm')), /missing import: env\.proxy_get_log_level/);
  await host.close();
});

test('an import with the wrong signature fails the load ("import type mismatch")', async () => {
  const { host } = newHost();
  await assert.rejects(host.load(spec('wrong-signature.wasm')), /import type mismatch: env\.proxy_log/);
  await host.close();
});

test('a module exporting neither malloc nor proxy_on_memory_allocate is refused', async () => {
  const { host } = newHost();
  await assert.rejects(host.load(spec('no-malloc.wasm')), /missing malloc function/);
  await host.close();
});

test('calling a non-start host function from _initialize traps (restricted_callback) and rejects the plugin', async () => {
  const { host } = newHost();
  await assert.rejects(host.load(spec('restricted-start.wasm')), /restricted_callback/);
  assert.equal(host.sharedData('vm1').size, 0);
  await host.close();
});

test('start: _initialize may log (proxy_log, fd_write via wasi_unstable); main(0,0) runs after it', async () => {
  const { host, logs } = newHost();
  await host.load(spec('start-ok.wasm'));
  const { workers, main } = host.vms();
  assert.equal(workers.length, 2);
  for (const vm of [...workers, main!]) assert.equal(Number(vm.fn('main_called')!()), 1);
  // base VM + canary + 2 workers + main thread = 5 VMs started (Envoy starts the base VM and every clone)
  assert.deepEqual(logs.filter((l) => l.message === 'started' && l.level === 'info').map((l) => l.vm), ['base', 'canary', 'worker0', 'worker1', 'main']);
  const stdout = logs.filter((l) => l.message === 'hello from stdout');
  assert.equal(stdout.length, 5, 'fd_write to fd 1 becomes an info log with the trailing newline stripped');
  assert.ok(stdout.every((l) => l.level === 'info'));
  assert.deepEqual(logs.filter((l) => l.vm === 'canary').map((l) => l.message), ['started', 'hello from stdout']);
  await host.close();
});

test('on_configure false in the canary rejects the configuration; workers never start', async () => {
  const { host } = newHost();
  await assert.rejects(host.load(spec('start-ok.wasm', { pluginConfig: 'no' })), /ConfigureFailed/);
  const { workers, main } = host.vms();
  assert.deepEqual([workers.length, main], [0, undefined]);
  assert.deepEqual(host.events().map((e) => e.kind), ['config_rejected']);
  await host.close();
});

test('on_vm_start false rejects the plugin (StartFailed)', async () => {
  const { host } = newHost();
  await assert.rejects(host.load(spec('start-ok.wasm', { vmConfig: 'fail' })), /StartFailed/);
  await host.close();
});

test('topology: canary, then N workers and the main thread; root contexts are id 1 in every VM', async () => {
  const t = await probeHost({ workers: 3 });
  const creates = t.calls.filter((c) => c.includes('proxy_on_context_create'));
  assert.deepEqual(creates, [
    'canary:proxy_on_context_create(1,0)', 'worker0:proxy_on_context_create(1,0)', 'worker1:proxy_on_context_create(1,0)',
    'worker2:proxy_on_context_create(1,0)', 'main:proxy_on_context_create(1,0)',
  ]);
  const canary = t.calls.filter((c) => c.startsWith('canary:'));
  assert.deepEqual(canary, ['canary:proxy_on_context_create(1,0)', 'canary:proxy_on_vm_start(1,0)', 'canary:proxy_on_configure(1,2)'],
    'canary: create → vm_start → configure, dropped without done/delete');
  await t.host.close();
});

test('the host allocates returned data with malloc when both malloc and proxy_on_memory_allocate exist', async () => {
  const t = await probeHost();
  const vm = t.host.vms().workers[0]!;
  t.on('proxy_on_request_headers', (p) => {
    const r = p.getHeader(0, ':path');
    assert.equal(r.result, 0);
    assert.equal(r.value, '/alloc');
  });
  await t.host.request({ method: 'GET', path: '/alloc', worker: 0 });
  assert.ok(Number(vm.fn('malloc_calls')!()) > 0);
  assert.equal(Number(vm.fn('alloc_calls')!()), 0);
  await t.host.close();
});

test('loading twice is an error; requests before load are refused', async () => {
  const { host } = newHost();
  await assert.rejects(host.request({ method: 'GET', path: '/' }), /no plugin loaded/);
  await host.load(spec('probe.wasm'));
  await assert.rejects(host.load(spec('probe.wasm')), /already/);
  await host.close();
});
