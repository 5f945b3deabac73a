// Deterministic shared-data races between worker VMs (interleaveSeed): a naive read-modify-write counter loses
// updates — for a quota that means admitting more requests than the limit — while the CAS-retrying one stays exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newHost, spec } from './helpers.js';

async function countRequests(mode: 'cas' | 'naive', seed: number | undefined, requests = 120): Promise<{ counter: number; preemptions: number }> {
  const { host } = newHost({ workers: 4, ...(seed === undefined ? {} : { interleaveSeed: seed }) });
  await host.load(spec('cas-counter.wasm', { pluginConfig: mode }));
  const results = await Promise.all(Array.from({ length: requests }, () => host.request({ method: 'GET', path: '/' })));
  assert.ok(results.every((r) => r.status === 200));
  const entry = host.sharedData('vm1').get('counter')!;
  const counter = new DataView(entry.value.buffer, entry.value.byteOffset).getUint32(0, true);
  const preemptions = host.interleaving()?.preemptions ?? 0;
  await host.close();
  return { counter, preemptions };
}

test('without interleaving every VM call runs to completion: even the naive counter is exact', async () => {
  assert.equal((await countRequests('naive', undefined)).counter, 120);
});

test('with interleaving the naive read-modify-write loses updates (a quota would over-admit)', async () => {
  const run = await countRequests('naive', 7);
  assert.ok(run.preemptions > 0);
  assert.ok(run.counter < 120, `expected lost updates, counted ${run.counter}`);
});

test('with the same interleaving the CAS-retrying counter is exact', async () => {
  const run = await countRequests('cas', 7);
  assert.ok(run.preemptions > 0);
  assert.equal(run.counter, 120);
});

test('the schedule is reproducible per seed', async () => {
  const a = await countRequests('naive', 42);
  const b = await countRequests('naive', 42);
  assert.deepEqual(a, b);
  for (const seed of [1, 2, 3]) assert.equal((await countRequests('cas', seed)).counter, 120);
});
