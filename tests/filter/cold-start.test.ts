// A restarted proxy must not hand out long windows again: it syncs the fleet's counts at configure time (a usage
// report with sync:true, before any tick), and until that sync has been answered it admits at most
// usage.coldStartShare of each hour/day/month limit (docs/filter.md, "Cold start"). A new host instance is a
// restarted Envoy: new shared data, new reporter id.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ConfigRejectedError } from '../../host/index.js';
import { baseConfig, header, startHost, T0, type Harness, type TestConfig } from './harness.js';
import { Control, FleetBook, USAGE_CLUSTER } from './control-stub.js';

const ajv = new Ajv2020({ strict: false });
const validateReport = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/usage-report.v1.schema.json', import.meta.url), 'utf8')) as object);
const validateConfig = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/filter-config.v1.schema.json', import.meta.url), 'utf8')) as object);

function withUsage(cfg: TestConfig, extra: Record<string, unknown> = {}): TestConfig {
  cfg.usage = { cluster: USAGE_CLUSTER, authority: 'ctl.local', path: '/v1/usage/reports', intervalMs: 1000, token: 'Bearer tgr_test', ...extra };
  return cfg;
}

const orders = { method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } };

async function statuses(h: Harness, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await h.host.request(orders)).status);
  return out;
}

function admitted(s: number[]): number {
  return s.filter((x) => x === 200).length;
}

async function tick(h: Harness, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) {
    await h.host.advance(1000);
    await h.host.settle();
  }
}

const primed = (h: Harness): boolean => h.host.sharedData('tollgate').has('tg:primed');

describe('cold start: sync at configure, then full limits', () => {
  let control: Control;
  let clock: () => number = () => T0;
  let book: FleetBook;
  before(async () => { control = new Control(); await control.listen(); });
  after(async () => control.close());

  function reset(pers: string[]): void {
    control.received = [];
    control.mode = 'ok';
    book = new FleetBook((k) => (k === 'key_alpha' ? 'pln_gold/con_acme' : undefined), pers, () => Math.floor(clock() / 1000));
    control.fleet = (r) => book.answer(r);
  }

  async function proxy(cfg: TestConfig, startTimeMs: number): Promise<Harness> {
    const h = await startHost(cfg, { clusters: control.clusters(), startTimeMs });
    clock = () => h.host.now();
    return h;
  }

  it('sends a sync report at configure, without waiting for a tick; once primed, reports carry no sync flag', async () => {
    reset(['hour']);
    const h = await proxy(withUsage(baseConfig([{ requests: 100, per: 'hour' }])), T0);
    try {
      await h.host.settle(); // no advance(): no tick has fired
      const syncs = control.received.filter((r) => r.report.sync === true);
      assert.ok(syncs.length >= 1, 'a sync report arrived before any tick');
      for (const r of syncs) {
        assert.ok(validateReport(r.report), JSON.stringify(validateReport.errors));
        assert.deepEqual(r.report.entries, [], 'nothing counted yet: an empty sync report is still sent');
      }
      assert.ok(primed(h), 'the answered sync primed the process');
      control.received = [];
      assert.equal(admitted(await statuses(h, 20)), 20, 'primed: more than the 10 % share');
      await tick(h, 3);
      const later = control.received.map((r) => r.report);
      assert.ok(later.length >= 1);
      for (const r of later) {
        assert.equal(r.sync, undefined, 'no sync flag after priming');
        assert.ok(validateReport(r), JSON.stringify(validateReport.errors));
      }
      // A reconfiguration of a primed process does not sync again.
      control.received = [];
      await h.host.reconfigure(JSON.stringify(withUsage(baseConfig([{ requests: 99, per: 'hour' }]))));
      await h.host.settle();
      assert.equal(control.received.length, 0);
    } finally {
      await h.host.close();
    }
  });

  it('a restarted proxy learns the fleet counts from its sync and admits nothing beyond the limit', async () => {
    reset(['hour']);
    const LIMIT = 20, BEFORE = 12;
    const cfg = (): TestConfig => withUsage(baseConfig([{ requests: LIMIT, per: 'hour' }, { requests: 1000, per: 'minute' }]));
    const first = await proxy(cfg(), T0 + 10 * 60_000);
    try {
      await first.host.settle();
      assert.equal(admitted(await statuses(first, BEFORE)), BEFORE);
      await tick(first, 2);
    } finally {
      await first.host.close();
    }
    // Envoy restarts (new shared data, new reporter id), same hour.
    const second = await proxy(cfg(), T0 + 20 * 60_000);
    try {
      await second.host.settle();
      assert.ok(primed(second));
      const s = await statuses(second, LIMIT);
      assert.equal(admitted(s), LIMIT - BEFORE, `got ${s.join(',')}`);
      assert.deepEqual(s.slice(LIMIT - BEFORE), Array<number>(BEFORE).fill(429));
    } finally {
      await second.host.close();
    }
  });

  it('with the control service down at start, a restarted proxy admits at most the share until the sync succeeds', async () => {
    reset(['hour']);
    control.mode = 'reset';
    const h = await proxy(withUsage(baseConfig([{ requests: 100, per: 'hour' }, { requests: 1000, per: 'minute' }])), T0);
    try {
      await h.host.settle();
      assert.ok(control.received.length >= 1 && control.received.every((r) => r.report.sync === true));
      assert.ok(!primed(h));
      const cold = await h.host.request(orders);
      assert.equal(cold.status, 200);
      assert.equal(cold.hostCalls.proxy_get_shared_data, 2, 'unprimed: the flag is checked');
      assert.equal(header(cold.headers, 'ratelimit-limit'), '10', 'the enforced (cold) limit is shown');
      const s = await statuses(h, 30);
      assert.equal(admitted(s) + 1, 10, '10 % of the hour limit');
      // Still down: every flush is a sync report, retried with back-off under the same batch id; still the share.
      await tick(h, 4);
      assert.ok(control.received.every((r) => r.report.sync === true));
      assert.ok(!primed(h));
      assert.equal(admitted(await statuses(h, 5)), 0);
      control.mode = 'ok';
      await tick(h, 8);
      assert.ok(primed(h), 'primed once the control service answers');
      const warm = await h.host.request(orders);
      assert.equal(warm.status, 200);
      assert.equal(warm.hostCalls.proxy_get_shared_data, 1, 'primed: no extra host call');
      assert.equal(admitted(await statuses(h, 100)), 89, 'the full limit, minus the 11 already admitted');
    } finally {
      await h.host.close();
    }
  });

  it('an answer that is not a version-2 reply does not prime: the next flush is a sync report again', async () => {
    reset(['hour']);
    control.mode = 'raw';
    control.raw = Buffer.from(JSON.stringify({ version: 1, batchId: '0'.repeat(32), duplicate: false, fleet: [] }));
    const h = await proxy(withUsage(baseConfig([{ requests: 100, per: 'hour' }])), T0);
    try {
      await h.host.settle();
      assert.ok(control.received.length >= 1);
      assert.ok(!primed(h));
      const before = control.received.length;
      await tick(h, 1);
      assert.ok(control.received.length > before, 'an empty sync report is sent on the next tick');
      assert.ok(control.received.every((r) => r.report.sync === true));
      assert.equal(admitted(await statuses(h, 20)), 10);
      control.raw = Buffer.from('{"version":2,"fleet":[');
      await tick(h, 1);
      assert.ok(!primed(h), 'a truncated reply does not prime');
      control.mode = 'ok';
      await tick(h, 1);
      assert.ok(primed(h));
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('usage.coldStartShare sets the share; second and minute limits are not cut; without usage there is no restriction', async () => {
    reset(['hour']);
    control.mode = 'reset';
    const half = await proxy(withUsage(baseConfig([{ requests: 40, per: 'day' }, { requests: 15, per: 'minute' }]), { coldStartShare: 0.5 }), T0);
    try {
      await half.host.settle();
      assert.equal(admitted(await statuses(half, 20)), 15, 'the minute limit is not cut to 7');
      await half.host.advance(60_000);
      assert.equal(admitted(await statuses(half, 20)), 5, 'half the day limit (20) while cold');
    } finally {
      await half.host.close();
    }
    const zero = await proxy(withUsage(baseConfig([{ requests: 40, per: 'month' }]), { coldStartShare: 0 }), T0);
    try {
      await zero.host.settle();
      assert.equal(admitted(await statuses(zero, 5)), 1, 'share 0 still admits one request per window');
    } finally {
      await zero.host.close();
    }
    control.received = [];
    const none = await proxy(baseConfig([{ requests: 30, per: 'hour' }]), T0);
    try {
      await none.host.settle();
      assert.equal(admitted(await statuses(none, 30)), 30);
      assert.equal(control.received.length, 0, 'no usage section: nothing to sync with');
    } finally {
      await none.host.close();
    }
  });

  it('usage.coldStartShare is a number in 0..1, as the schema says', async () => {
    for (const v of [0, 1, 0.25, 1e-3, '0.1', true, -0.1, 1.5, null, 10]) {
      const cfg = withUsage(baseConfig(), { coldStartShare: v });
      const schemaOk = validateConfig(cfg);
      let filterOk = true;
      let why = '';
      try {
        const h = await startHost(cfg, { workers: 1, clusters: control.clusters() });
        await h.host.settle();
        await h.host.close();
      } catch (err) {
        if (!(err instanceof ConfigRejectedError)) throw err;
        filterOk = false;
        why = [err.message, ...err.logs.map((l) => l.message)].join(' | ');
      }
      assert.equal(filterOk, schemaOk, `coldStartShare ${JSON.stringify(v)}: ${why}`);
      assert.equal(filterOk, typeof v === 'number' && v >= 0 && v <= 1, `coldStartShare ${JSON.stringify(v)}`);
      if (!filterOk) assert.match(why, /usage\.coldStartShare/);
    }
  });
});
