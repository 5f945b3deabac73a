// The informer adapter (control/discovery/watcher.ts) against a loopback API server that speaks list and watch
// (fake-kube-watch.ts): resourceVersion, bookmarks, 410 Gone → relist (as HTTP 410 and as an ERROR event), a dropped
// connection → resume from the last resourceVersion without losing an event, a failed list → retried.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceWatcher } from '../../control/discovery/watcher.js';
import { fakeKubeWatch, type FakeKubeWatch } from './fake-kube-watch.js';

const quiet = { warn: () => undefined, info: () => undefined };

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function names(w: ServiceWatcher, ns?: string): string[] {
  return w.services().filter((s) => ns === undefined || s.metadata?.namespace === ns).map((s) => s.metadata!.name!).sort();
}

describe('discovery: the Service informer against a list/watch API server', () => {
  let kube: FakeKubeWatch;
  let w: ServiceWatcher;
  let changes = 0;

  before(async () => {
    kube = await fakeKubeWatch({ namespaces: ['shop', 'billing'] });
    kube.apply('shop', { name: 'orders' });
    kube.apply('billing', { name: 'invoices' });
    w = new ServiceWatcher({ kubeConfig: kube.kubeConfig(), namespaces: ['shop', 'billing'], onChange: () => { changes++; }, log: quiet, retryMs: 50, maxRetryMs: 200 });
    w.start();
    await until('both namespaces listed and watched', () => w.synced && kube.openWatches === 2);
  });
  after(async () => {
    await w.stop();
    await kube.close();
  });

  it('lists each namespace, then watches from the list resourceVersion with bookmarks asked for', () => {
    assert.deepEqual(names(w), ['invoices', 'orders']);
    assert.deepEqual([...kube.lists].sort(), ['billing', 'shop']);
    for (const req of kube.watches) {
      assert.equal(req.resourceVersion, String(kube.resourceVersion), 'watch starts at the list resourceVersion');
      assert.equal(req.allowWatchBookmarks, true);
    }
    assert.ok(w.statuses().every((s) => s.synced && s.lists === 1 && s.lastError === null));
  });

  it('added, modified and deleted Services arrive over the watch (no new list)', async () => {
    const lists = kube.lists.length;
    const before = changes;
    kube.apply('shop', { name: 'carts' });
    kube.apply('shop', { name: 'carts', annotations: { 'tollgate.dev/expose': 'true' } });
    kube.remove('billing', 'invoices');
    await until('three events', () => changes >= before + 3 && names(w).join() === 'carts,orders');
    const carts = w.services().find((s) => s.metadata?.name === 'carts')!;
    assert.equal(carts.metadata!.annotations!['tollgate.dev/expose'], 'true');
    assert.equal(kube.lists.length, lists);
  });

  it('a bookmark moves the resourceVersion on; the next watch resumes from it', async () => {
    kube.apply('shop', { name: 'payments' }); // only shop hears of it: billing's resourceVersion stays behind
    await until('payments seen', () => names(w, 'shop').includes('payments'));
    const billingBefore = w.statuses().find((s) => s.namespace === 'billing')!.resourceVersion;
    assert.ok(Number(billingBefore) < kube.resourceVersion);
    assert.equal(kube.bookmark(), 2);
    await until('billing at the bookmark', () => w.statuses().find((s) => s.namespace === 'billing')!.resourceVersion === String(kube.resourceVersion));
    const watchesBefore = kube.watches.length;
    const lists = kube.lists.length;
    kube.endWatches(); // the server's watch timeout: a clean end
    await until('both watches back', () => kube.watches.length >= watchesBefore + 2 && kube.openWatches === 2);
    const resumed = kube.watches.slice(watchesBefore).find((r) => r.namespace === 'billing')!;
    assert.equal(resumed.resourceVersion, String(kube.resourceVersion), 'resumed from the bookmark, not the last event');
    assert.equal(kube.lists.length, lists, 'a clean end resumes the watch without a list');
  });

  it('a dropped connection resumes from the last resourceVersion without losing the events in between', async () => {
    const lists = kube.lists.length;
    const watchesBefore = kube.watches.length;
    const rvBefore = String(kube.resourceVersion);
    assert.equal(kube.dropWatches(), 2);
    // While no watch is open: these are in the server's log only.
    kube.apply('shop', { name: 'search' });
    kube.remove('shop', 'carts');
    kube.apply('billing', { name: 'ledger' });
    await until('events replayed on resume', () => names(w).join() === 'ledger,orders,payments,search', 10_000);
    const resumed = kube.watches.slice(watchesBefore);
    assert.ok(resumed.length >= 2);
    assert.ok(resumed.every((r) => r.resourceVersion === rvBefore), `resumed from ${rvBefore}: ${JSON.stringify(resumed)}`);
    assert.equal(kube.lists.length, lists, 'no relist: the watch resumed');
    await until('watching again', () => kube.openWatches === 2);
  });

  for (const style of ['http', 'event'] as const) {
    it(`410 Gone (${style === 'http' ? 'HTTP 410' : 'an ERROR event with a 410 Status'}) → a new list; Services gone meanwhile are reported deleted`, async () => {
      kube.goneStyle = style;
      const lists = kube.lists.length;
      kube.dropWatches();
      kube.remove('shop', 'search');
      kube.apply('shop', { name: `fresh-${style}` });
      kube.compact(); // the log of those events is gone: only a list can tell
      await until('relisted and converged', () => names(w, 'shop').includes(`fresh-${style}`) && !names(w, 'shop').includes('search'), 10_000);
      assert.ok(kube.lists.length >= lists + 2, 'both namespaces listed again');
      await until('watching again', () => kube.openWatches === 2);
      const last = kube.watches.slice(-2);
      assert.ok(last.every((r) => r.resourceVersion === String(kube.resourceVersion)), 'watch restarts at the new list resourceVersion');
      kube.apply('shop', { name: 'search' }); // and the new watch works
      await until('new watch delivers', () => names(w, 'shop').includes('search'));
    });
  }

  it('a failed list is retried with backoff and recorded in the status', async () => {
    kube.failLists(2);
    kube.goneStyle = 'http';
    kube.dropWatches();
    kube.apply('billing', { name: 'refunds' });
    kube.compact();
    await until('listed again after two failures', () => names(w, 'billing').includes('refunds'), 10_000);
    const s = w.statuses();
    assert.ok(s.some((x) => x.restarts > 0 && x.lastError !== null && /500/.test(x.lastError)), JSON.stringify(s));
  });

  it('a namespace the server forbids is reported, never listed as empty', async () => {
    const kube2 = await fakeKubeWatch({ namespaces: ['shop'] });
    try {
      const w2 = new ServiceWatcher({ kubeConfig: kube2.kubeConfig(), namespaces: ['shop', 'secret'], onChange: () => undefined, log: quiet, retryMs: 50, maxRetryMs: 100 });
      w2.start();
      await until('error recorded', () => w2.statuses().find((s) => s.namespace === 'secret')!.lastError !== null);
      assert.equal(w2.synced, false, 'not synced while a namespace cannot be listed (a sync would read every Service there as deleted)');
      assert.match(w2.statuses().find((s) => s.namespace === 'secret')!.lastError!, /403/);
      await w2.stop();
    } finally {
      await kube2.close();
    }
  });
});
