// The TypeScript contracts (contracts/) and the filter's AssemblyScript mirror agree: the real filter, on the host,
// accepts exactly the contract's periods, path forms and configuration version, and reports exactly the contract's
// outcomes under its metric names. A period, outcome or version changed on one side only fails here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigRejectedError } from '../../host/index.js';
import { FILTER_CONFIG_VERSION, PATH_FORMS, PERIODS } from '../../contracts/filter-config.js';
import { OUTCOME_EDGES, OUTCOMES, USAGE_REPORT_PATH, USAGE_REPORT_VERSION } from '../../contracts/usage-report.js';
import { baseConfig, startHost, type TestConfig } from '../filter/harness.js';
import { Control, USAGE_CLUSTER } from '../filter/control-stub.js';

async function accepted(cfg: TestConfig): Promise<boolean> {
  try {
    await (await startHost(cfg, { workers: 1 })).host.close();
    return true;
  } catch (err) {
    if (err instanceof ConfigRejectedError) return false;
    throw err;
  }
}

describe('filter configuration contract', () => {
  it('the filter accepts every contract period and no other', async () => {
    for (const per of PERIODS) assert.equal(await accepted(baseConfig([{ requests: 1, per }])), true, per);
    for (const per of ['week', 'year', 'Minute', 'minutes']) assert.equal(await accepted(baseConfig([{ requests: 1, per }])), false, per);
  });

  it('the filter accepts every contract path form and no other, and only the contract\'s version', async () => {
    for (const form of PATH_FORMS) assert.equal(await accepted({ ...baseConfig(), passPathForms: [form] }), true, form);
    assert.equal(await accepted({ ...baseConfig(), passPathForms: ['absolute'] }), false);
    assert.equal(await accepted({ ...baseConfig(), version: FILTER_CONFIG_VERSION }), true);
    assert.equal(await accepted({ ...baseConfig(), version: FILTER_CONFIG_VERSION + 1 }), false);
  });
});

describe('usage report contract', () => {
  let control: Control;
  before(async () => { control = new Control(); await control.listen(); });
  after(async () => control.close());

  it('the filter reports exactly the contract\'s outcomes, and counts them under the contract\'s metric names', async () => {
    const cfg = baseConfig([{ requests: 1, per: 'hour' }]);
    cfg.usage = { cluster: USAGE_CLUSTER, authority: 'ctl.local', path: USAGE_REPORT_PATH, intervalMs: 1000, token: 'Bearer t' };
    const h = await startHost(cfg, { clusters: control.clusters(), workers: 1 });
    try {
      const key = { 'x-api-key': 'key-alpha' };
      assert.equal((await h.host.request({ method: 'GET', path: '/orders', headers: key })).status, 200);
      assert.equal((await h.host.request({ method: 'GET', path: '/orders', headers: key })).status, 429);
      assert.equal((await h.host.request({ method: 'GET', path: '/orders' })).status, 401);
      assert.equal((await h.host.request({ method: 'GET', path: '/admin', headers: key })).status, 403);
      for (let i = 0; i < 5; i++) {
        await h.host.advance(1000);
        await h.host.settle();
      }
      const reports = control.accepted();
      assert.ok(reports.every((r) => r.version === USAGE_REPORT_VERSION));
      assert.deepEqual([...new Set(reports.flatMap((r) => r.entries.map((e) => e.outcome)))].sort(), [...OUTCOMES].sort());
      const counters = new Map(h.host.metrics().filter((m) => m.type === 'counter').map((m) => [m.name, m.value]));
      for (const o of OUTCOMES) assert.equal(counters.get(OUTCOME_EDGES[o].filterMetric), 1, `${o} → ${OUTCOME_EDGES[o].filterMetric}`);
    } finally {
      await h.host.close();
    }
  });
});
