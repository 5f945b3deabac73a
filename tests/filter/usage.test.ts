// Usage reporting end to end against a real loopback HTTP server as the control cluster: report format, retries
// with the same batch id while the control service is down, no loss or double counting, 4xx drops counted,
// the fleet reply feeding the global quota, reconfiguration mid-traffic, and metrics. Each test starts after the
// proxy's start-up sync (cold-start.test.ts covers that) so it sees only the reports it causes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { baseConfig, T0, startHost, type Harness, type TestConfig } from './harness.js';
import { Control, USAGE_CLUSTER, type Report } from './control-stub.js';

const ajv = new Ajv2020({ strict: false });
const validateReport = ajv.compile(JSON.parse(readFileSync(new URL('../../schemas/usage-report.v1.schema.json', import.meta.url), 'utf8')) as object);

function withUsage(cfg: TestConfig, intervalMs = 1000, extra: Record<string, unknown> = {}): TestConfig {
  cfg.usage = { cluster: USAGE_CLUSTER, authority: 'ctl.local', path: '/v1/usage/reports', intervalMs, token: 'Bearer tgr_test', ...extra };
  return cfg;
}

function totals(reports: Report[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of reports) for (const e of r.entries) {
    const k = `${e.keyId}|${e.apiId}|${e.outcome}`;
    m.set(k, (m.get(k) ?? 0) + e.count);
  }
  return m;
}

async function tick(h: Harness, times = 1, ms = 1000): Promise<void> {
  for (let i = 0; i < times; i++) {
    await h.host.advance(ms);
    await h.host.settle();
  }
}

describe('usage reporting', () => {
  let control: Control;
  before(async () => { control = new Control(); await control.listen(); });
  after(async () => control.close());

  /** A host whose start-up sync has been answered (primed), with the record of received reports cleared. */
  async function start(cfg: TestConfig, usage: Record<string, unknown> = {}): Promise<Harness> {
    control.received = [];
    control.mode = 'ok';
    control.fleet = () => [];
    const h = await startHost(withUsage(cfg, 1000, usage), { clusters: control.clusters() });
    for (let i = 0; i < 50 && !h.host.sharedData('tollgate').has('tg:primed'); i++) await h.host.settle();
    await h.host.settle();
    assert.ok(h.host.sharedData('tollgate').has('tg:primed'), 'the start-up sync primed the proxy');
    assert.ok(control.received.length >= 1 && control.received.every((r) => r.report.sync === true));
    control.received = [];
    return h;
  }

  it('reports per (minute, key, api, outcome) with status classes, valid per the schema', async () => {
    const h = await start(baseConfig());
    try {
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } }, () => ({ status: 201, headers: [] }));
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } }, () => ({ status: 503, headers: [] }));
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'nope' } });
      await h.host.request({ method: 'GET', path: '/admin', headers: { 'x-api-key': 'key-alpha' } });
      await h.host.request({ method: 'GET', path: '/public' });
      await tick(h, 2);
      const reports = control.accepted();
      assert.ok(reports.length >= 1);
      for (const r of reports) assert.ok(validateReport(r), JSON.stringify(validateReport.errors));
      assert.equal(new Set(reports.map((r) => r.reporter)).size, 1, 'every VM shares one reporter id');
      const t = totals(reports);
      assert.equal(t.get('key_alpha|api_orders|allowed'), 2);
      assert.equal(t.get('|api_orders|rejected_auth'), 1);
      assert.equal(t.get('key_alpha|api_admin|rejected_forbidden'), 1);
      assert.equal(t.size, 3, 'unmatched pass-through requests are not reported');
      const statuses: Record<string, number> = {};
      for (const r of reports) for (const e of r.entries) for (const [k, v] of Object.entries(e.status ?? {})) statuses[k] = (statuses[k] ?? 0) + v;
      assert.deepEqual(statuses, { '2xx': 1, '5xx': 1 });
      for (const r of reports) for (const e of r.entries) assert.equal(e.minute, T0 / 1000);
      const req = control.received[0]!;
      assert.equal(req.headers.authorization, 'Bearer tgr_test');
      assert.equal(req.headers['content-type'], 'application/json');
      const flushOk = h.host.metrics().find((m) => m.name === 'tollgate_flush_ok');
      assert.ok(flushOk !== undefined && flushOk.value >= 1);
      const allowed = h.host.metrics().find((m) => m.name === 'tollgate_allowed');
      assert.equal(allowed?.value, 2);
    } finally {
      await h.host.close();
    }
  });

  it('keeps and retries a batch (same id) while the control service is down, then delivers everything once', async () => {
    const h = await start(baseConfig([{ requests: 1000, per: 'minute' }]));
    try {
      control.mode = 'reset';
      for (let i = 0; i < 6; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      await tick(h, 2);
      const attemptedWhileDown = new Set(control.received.map((r) => r.report.batchId));
      assert.ok(attemptedWhileDown.size >= 1);
      control.mode = '503';
      for (let i = 0; i < 4; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      await tick(h, 4);
      control.mode = 'ok';
      await tick(h, 8, 5000);
      const reports = control.accepted();
      for (const id of attemptedWhileDown) assert.ok(reports.some((r) => r.batchId === id), `batch ${id} was retried under the same id`);
      assert.equal(totals(reports).get('key_alpha|api_orders|allowed'), 10);
      assert.ok(reports.every((r) => r.dropped === 0));
      const failed = h.host.metrics().find((m) => m.name === 'tollgate_flush_failed');
      assert.ok(failed !== undefined && failed.value >= 1);
    } finally {
      await h.host.close();
    }
  });

  it('backs off exponentially while the control service keeps failing', async () => {
    const h = await start(baseConfig());
    try {
      control.mode = 'reset';
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' }, worker: 0 });
      const attemptsAt: number[] = [];
      for (let t = 1; t <= 40; t++) {
        const before = control.received.length;
        await tick(h, 1);
        if (control.received.length > before) attemptsAt.push(t);
      }
      // Interval 1 s, back-off 1 s doubling: attempts at ticks 1, 2, 4, 8, 16, 32 (not on every tick).
      assert.deepEqual(attemptsAt, [1, 2, 4, 8, 16, 32]);
      assert.equal(new Set(control.received.map((r) => r.report.batchId)).size, 1, 'one batch, retried under its id');
    } finally {
      await h.host.close();
    }
  });

  it('retries a batch whose call timed out', async () => {
    const h = await start(baseConfig(), { timeoutMs: 500 });
    control.mode = 'hang';
    try {
      for (let i = 0; i < 3; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' }, worker: 1 });
      for (let i = 0; i < 4; i++) {
        await h.host.advance(1000);
        await new Promise((resolve) => setTimeout(resolve, 20));
        await h.host.settle(200);
      }
      const hung = new Set(control.received.map((r) => r.report.batchId));
      assert.equal(hung.size, 1);
      control.mode = 'ok';
      await tick(h, 8, 5000);
      const reports = control.accepted();
      assert.ok(reports.some((r) => hung.has(r.batchId)), 'the timed-out batch was retried under its id');
      assert.equal(totals(reports).get('key_alpha|api_orders|allowed'), 3);
    } finally {
      await h.host.close();
    }
  });

  it('drops a batch the service refuses (400) and reports the loss as dropped', async () => {
    const h = await start(baseConfig());
    try {
      control.mode = '400';
      for (let i = 0; i < 3; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' }, worker: 0 });
      await tick(h, 2);
      assert.ok(control.received.length >= 1);
      await tick(h, 3);
      // Later reports carry the loss as `dropped` (refused again here), but no refused batch id is ever resent.
      const ids = control.received.map((r) => r.report.batchId);
      assert.equal(new Set(ids).size, ids.length, 'a refused batch is not retried');
      assert.ok(control.received.slice(1).every((r) => r.report.entries.length === 0 && r.report.dropped === 3));
      control.mode = 'ok';
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' }, worker: 0 });
      await tick(h, 2);
      const reports = control.accepted();
      assert.equal(reports.reduce((a, r) => a + r.dropped, 0), 3);
      assert.equal(totals(reports).get('key_alpha|api_orders|allowed'), 1);
    } finally {
      await h.host.close();
    }
  });

  it('keeps a batch refused with 401 and delivers it with the token of the next configuration (token rotation)', async () => {
    const h = await start(baseConfig([{ requests: 1000, per: 'minute' }]));
    try {
      control.mode = '401';
      for (let i = 0; i < 3; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      await tick(h, 3);
      assert.ok(control.received.length >= 1);
      assert.ok(control.received.every((r) => r.headers.authorization === 'Bearer tgr_test'));
      const rotated = withUsage(baseConfig([{ requests: 1000, per: 'minute' }]));
      (rotated.usage as { token: string }).token = 'Bearer tgr_rotated';
      await h.host.reconfigure(JSON.stringify(rotated));
      control.mode = 'ok';
      await tick(h, 10, 5000);
      const ok = control.received.filter((r) => r.answered === 'ok');
      assert.ok(ok.length >= 1 && ok.every((r) => r.headers.authorization === 'Bearer tgr_rotated'));
      const reports = control.accepted();
      assert.equal(totals(reports).get('key_alpha|api_orders|allowed'), 3);
      assert.ok(reports.every((r) => r.dropped === 0), 'nothing was dropped');
      assert.equal(h.host.metrics().find((m) => m.name === 'tollgate_usage_dropped')?.value ?? 0, 0);
    } finally {
      await h.host.close();
    }
  });

  it('reports a refused batch as dropped even when no further request comes', async () => {
    const h = await start(baseConfig());
    try {
      control.mode = '400';
      for (let i = 0; i < 4; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' }, worker: 1 });
      await tick(h, 1);
      assert.ok(control.received.length >= 1);
      control.mode = 'ok';
      await tick(h, 2);
      const reports = control.accepted();
      assert.equal(reports.reduce((a, r) => a + r.dropped, 0), 4, 'the loss is reported without waiting for new traffic');
      assert.equal(reports.reduce((a, r) => a + r.entries.length, 0), 0);
      for (const r of reports) assert.ok(validateReport(r), JSON.stringify(validateReport.errors));
      await tick(h, 3);
      assert.equal(control.accepted().length, reports.length, 'nothing left to report: no empty reports');
    } finally {
      await h.host.close();
    }
  });

  it('holds at most usage.maxEntries counters per VM and reports the overflow as dropped', async () => {
    const h = await start(baseConfig(), { maxEntries: 2 });
    try {
      const on0 = { worker: 0 };
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' }, ...on0 });
      await h.host.request({ method: 'GET', path: '/orders', ...on0 });
      await h.host.request({ method: 'GET', path: '/admin', headers: { 'x-api-key': 'key-alpha' }, ...on0 });
      await h.host.request({ method: 'GET', path: '/admin', headers: { 'x-api-key': 'key-alpha' }, ...on0 });
      await h.host.request({ method: 'GET', path: '/orders', ...on0 });
      await tick(h, 2);
      const reports = control.accepted();
      assert.equal(reports.reduce((a, r) => a + r.entries.length, 0), 2);
      assert.equal(reports.reduce((a, r) => a + r.dropped, 0), 2);
      const t = totals(reports);
      assert.equal(t.get('key_alpha|api_orders|allowed'), 1);
      assert.equal(t.get('|api_orders|rejected_auth'), 2);
      assert.equal(h.host.metrics().find((m) => m.name === 'tollgate_usage_dropped')?.value, 2);
    } finally {
      await h.host.close();
    }
  });

  it('adds the fleet count from the reply to the local count of the subscription (global quota)', async () => {
    const h = await start(baseConfig([{ requests: 10, per: 'minute' }]));
    try {
      control.fleet = (r) => r.entries.filter((e) => e.keyId === 'key_alpha')
        .map(() => ({ subscription: 'pln_gold/con_acme', per: 'minute', windowStart: T0 / 1000, others: 7 }));
      for (let i = 0; i < 2; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      await h.host.advance(1000);
      await h.host.settle();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } })).status);
      assert.deepEqual(statuses, [200, 429, 429]); // 2 local + 7 others + 1 = 10
    } finally {
      await h.host.close();
    }
  });

  it('a garbage reply is survived (no trap) and the batch still counts as delivered', async () => {
    const h = await start(baseConfig());
    try {
      control.fleet = () => [{ subscription: 7, per: 'week' }, null, 'x',
        { subscription: 'pln_gold/con_acme', per: 'minute', windowStart: -1, others: 'many' },
        { subscription: 'pln_gold/con_acme/x', per: 'minute', windowStart: T0 / 1000, others: 1000 },
        { keyId: 'key_alpha', per: 'minute', windowStart: T0 / 1000, others: 1000 }];
      await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      await tick(h, 2);
      assert.equal(control.accepted().length >= 1, true);
      assert.equal(h.host.stats().vmFailures, 0);
      const r = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(r.status, 200);
    } finally {
      await h.host.close();
    }
  });

  it('survives replies that are not JSON at all (binary, truncated, deeply nested, oversized)', async () => {
    const h = await start(baseConfig([{ requests: 1000, per: 'minute' }]));
    try {
      const deep = '{"fleet":' + '['.repeat(100_000);
      const bodies = [
        Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x22, 0x80, 0xc3]),
        Buffer.from('{"fleet":[{"subscription":"pln_gold/con_acme","per":"minute","windowStart":1767225600,"oth'),
        Buffer.from(deep),
        Buffer.from('{"fleet":[{"subscription":"pln_gold/con_acme","per":"minute","windowStart":1e400,"others":-0}],"x":"\ud800"}'),
        // Over the filter's read cap: only the first 4 MiB are read, the parse stops there.
        Buffer.concat([Buffer.from('{"pad":"'), Buffer.alloc(5 * 1024 * 1024, 0x61), Buffer.from('"}')]),
      ];
      let sent = 0;
      for (const body of bodies) {
        control.mode = 'raw';
        control.raw = body;
        await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
        sent++;
        await tick(h, 2);
        assert.equal(h.host.stats().vmFailures, 0, `reply ${body.subarray(0, 20).toString('latin1')}`);
      }
      // Every garbage reply was a 200: each batch was delivered once, and requests still pass.
      const got = control.received.filter((r) => r.answered === 'raw');
      assert.equal(new Set(got.map((r) => r.report.batchId)).size, got.length, 'a 2xx batch is never resent');
      assert.equal(totals(got.map((r) => r.report)).get('key_alpha|api_orders|allowed'), sent);
      const r = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(r.status, 200);
    } finally {
      await h.host.close();
    }
  });

  it('reconfiguration while a batch waits for retry loses nothing and counts nothing twice', async () => {
    const h = await start(baseConfig([{ requests: 1000, per: 'minute' }]));
    try {
      control.mode = 'reset';
      for (let i = 0; i < 5; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      await tick(h, 2);
      assert.ok(control.received.length >= 1, 'a batch was attempted and failed before the reconfiguration');
      const next = withUsage(baseConfig([{ requests: 500, per: 'hour' }]));
      (next.plans[0] as { id: string }).id = 'pln_silver';
      await h.host.reconfigure(JSON.stringify(next));
      for (let i = 0; i < 3; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      control.mode = 'ok';
      await tick(h, 10, 5000);
      assert.equal(totals(control.accepted()).get('key_alpha|api_orders|allowed'), 8);
      assert.ok(control.accepted().every((r) => r.dropped === 0));
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('reconfiguration mid-traffic keeps counts: nothing lost, nothing twice', async () => {
    const h = await start(baseConfig([{ requests: 1000, per: 'minute' }]));
    try {
      for (let i = 0; i < 5; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      const next = withUsage(baseConfig([{ requests: 500, per: 'hour' }]));
      (next.plans[0] as { id: string }).id = 'pln_silver';
      await h.host.reconfigure(JSON.stringify(next));
      for (let i = 0; i < 4; i++) await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      await tick(h, 3);
      assert.equal(totals(control.accepted()).get('key_alpha|api_orders|allowed'), 9);
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });
});
