// Retention of minute-level usage (TOLLGATE_USAGE_RETENTION_DAYS), on the run's backend: whole UTC days older than the
// setting are dropped when reports arrive (at most hourly), the hour and day rollups stay.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadSettings } from '../../control/settings.js';
import type { StoredBatch, UsageRepository, UsageRow } from '../../control/store/repository.js';
import { DEFAULT_USAGE_RETENTION_DAYS, MIN_USAGE_RETENTION_DAYS, usageCutoff, UsageRetention } from '../../control/usage/retention.js';
import { MAX_REPORT_AGE_S } from '../../control/usage/report-rules.js';
import { batchId, currentMinute, seed, testApp, type TestApp } from './helpers.js';

const DAY = 86_400;

describe('the retention rule', () => {
  it('keeps the current UTC day and the configured number of days before it', () => {
    const now = Date.UTC(2026, 4, 10, 15, 30) / 1000;
    assert.equal(usageCutoff(now, 400), Date.UTC(2026, 4, 10) / 1000 - 400 * DAY);
    assert.equal(loadSettings({}).usageRetentionDays, DEFAULT_USAGE_RETENTION_DAYS);
    assert.equal(loadSettings({ TOLLGATE_USAGE_RETENTION_DAYS: '30' }).usageRetentionDays, 30);
  });

  it('never drops a day that an accepted report can still add to', () => {
    const now = Date.UTC(2026, 4, 10, 0, 0, 30) / 1000;
    const oldestAccepted = now - MAX_REPORT_AGE_S;
    assert.ok(usageCutoff(now, MIN_USAGE_RETENTION_DAYS) <= Math.floor(oldestAccepted / DAY) * DAY);
    assert.throws(() => loadSettings({ TOLLGATE_USAGE_RETENTION_DAYS: String(MIN_USAGE_RETENTION_DAYS - 1) }), /TOLLGATE_USAGE_RETENTION_DAYS/);
  });

  it('runs on the first report, then at most once an hour', async () => {
    const cuts: number[] = [];
    const repo = { dropUsageBefore: async (before: number) => { cuts.push(before); } } as unknown as UsageRepository;
    const r = new UsageRetention(repo, 10);
    const t0 = Date.UTC(2026, 4, 10, 12) / 1000;
    await r.maybeDrop(t0);
    await r.maybeDrop(t0 + 3599);
    await r.maybeDrop(t0 + 3600);
    assert.deepEqual(cuts, [usageCutoff(t0, 10), usageCutoff(t0 + 3600, 10)]);
  });
});

describe('minute usage past the retention', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp({ usageRetentionDays: 10 });
    s = await seed(t);
  });
  after(async () => t.close());

  const today = Math.floor(currentMinute() / DAY) * DAY;
  const old = today - 20 * DAY + 600;
  const recent = today - 5 * DAY + 600;

  /** Usage written straight through the repository: reports that old would be refused today. */
  function stored(minute: number): StoredBatch {
    const row = (start: number): UsageRow => ({ start, keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', consumerId: s.consumerId, count: 4, units: 4, status: { '1xx': 0, '2xx': 4, '3xx': 0, '4xx': 0, '5xx': 0 } });
    return {
      batchId: batchId(), reporter: 'r', targetId: 'default', receivedAt: minute, entries: 1, dropped: 0, refused: 0,
      rows: { minute: [row(minute)], hour: [row(Math.floor(minute / 3600) * 3600)], day: [row(Math.floor(minute / DAY) * DAY)] }, fleet: [],
    };
  }

  const allowed = async (minute: number, granularity: 'minute' | 'hour' | 'day'): Promise<number> => {
    const q = `from=${new Date(minute * 1000).toISOString()}&to=${new Date((minute + 60) * 1000).toISOString()}&granularity=${granularity}`;
    return (await t.admin('GET', `/v1/usage?${q}`)).json<{ totals: { allowed: number } }>().totals.allowed;
  };

  it('is dropped once a report arrives; newer minutes and every hour and day rollup stay', async () => {
    await t.app.store.usage.storeBatch(stored(old));
    await t.app.store.usage.storeBatch(stored(recent));
    assert.equal(await allowed(old, 'minute'), 4, 'stored before retention runs');
    const report = { version: 1, batchId: batchId(), reporter: '0123456789abcdef', dropped: 0, entries: [{ minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1 }] };
    assert.equal((await t.report('POST', '/v1/usage/reports', report)).statusCode, 200);
    assert.equal(await allowed(old, 'minute'), 0, 'minutes older than 10 days are gone');
    assert.equal(await allowed(recent, 'minute'), 4, 'minutes of 5 days ago stay');
    assert.equal(await allowed(old, 'hour'), 4, 'the hour rollup of the dropped day stays');
    assert.equal(await allowed(old, 'day'), 4, 'and its day rollup');
  });
});
