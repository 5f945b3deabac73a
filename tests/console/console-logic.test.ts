// The console's pure decisions (console/src, no DOM): chart columns from a usage reply, top-consumer ranking, fleet
// rows and convergence from either API generation, capability discovery from OpenAPI, the per-operation breakdown
// from the export's NDJSON, and problem+json messages. The browser test covers the views themselves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chartColumns, EMPTY_USAGE, OUTCOME_SERIES, STATUS_SERIES } from '../../console/src/usage-series.js';
import { NO_CONSUMER, rankConsumers, topConsumerRows } from '../../console/src/top-consumers.js';
import { convergenceRows, fleetRows } from '../../console/src/fleet.js';
import { capabilitiesOf } from '../../console/src/capabilities.js';
import { hourAligned, operationBreakdown } from '../../console/src/operations.js';
import { problemMessage } from '../../console/src/api.js';
import type { DistributionView, UsageView } from '../../console/src/types.js';

const status = (s2 = 0, s5 = 0) => ({ '1xx': 0, '2xx': s2, '3xx': 0, '4xx': 0, '5xx': s5 });
const counts = (allowed: number, rejectedQuota = 0, rejectedAuth = 0) => ({ allowed, rejectedQuota, rejectedAuth, rejectedForbidden: 0, units: allowed, wouldReject: 0 });
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0) / 1000;

describe('console: usage chart columns', () => {
  it('fills every bucket of the range, zero where the reply has none, and places points by their start', () => {
    const view: UsageView = {
      totals: counts(7, 2), upstreamStatus: status(6, 1),
      series: [
        { start: new Date((T0 + 120) * 1000).toISOString(), ...counts(5, 2), upstreamStatus: status(4, 1) },
        { start: new Date((T0 + 240) * 1000).toISOString(), ...counts(2), upstreamStatus: status(2) },
        { start: new Date((T0 + 99_999) * 1000).toISOString(), ...counts(100), upstreamStatus: status(100) },
      ],
    };
    const c = chartColumns(view, T0 + 30, T0 + 300, 'minute');
    assert.deepEqual(c.x, [T0, T0 + 60, T0 + 120, T0 + 180, T0 + 240]);
    const allowed = c.outcomes[OUTCOME_SERIES.findIndex((s) => s.id === 'allowed')]!;
    const quota = c.outcomes[OUTCOME_SERIES.findIndex((s) => s.id === 'rejectedQuota')]!;
    assert.deepEqual(allowed, [0, 0, 5, 0, 2], 'a point outside the range is ignored');
    assert.deepEqual(quota, [0, 0, 2, 0, 0]);
    assert.deepEqual(c.status[STATUS_SERIES.findIndex((s) => s.id === '5xx')], [0, 0, 1, 0, 0]);
    assert.equal(OUTCOME_SERIES.find((s) => s.id === 'allowed')!.total(view), 7);
  });

  it('an empty reply or an empty range gives zero columns, not an error', () => {
    assert.deepEqual(chartColumns(EMPTY_USAGE, T0, T0 + 3600, 'hour').outcomes.map((col) => col.length), OUTCOME_SERIES.map(() => 1));
    assert.deepEqual(chartColumns(EMPTY_USAGE, T0, T0, 'minute').x, []);
  });
});

describe('console: top consumers against older services', () => {
  it('ranks by all requests (allowed and denied), ties by name, drops idle consumers, keeps the top n', () => {
    const c = (id: string, name: string) => ({ id, name, createdAt: '' });
    const u = (allowed: number, quota = 0): UsageView => ({ ...EMPTY_USAGE, totals: counts(allowed, quota) });
    const ranked = rankConsumers([
      { consumer: c('a', 'alpha'), usage: u(5) },
      { consumer: c('b', 'bravo'), usage: u(1, 9) },
      { consumer: c('z', 'zulu'), usage: u(5) },
      { consumer: c('i', 'idle'), usage: u(0) },
    ], 2);
    assert.deepEqual(ranked.map((r) => [r.id, r.requests, r.denied]), [['b', 10, 9], ['a', 5, 0]]);
  });
});

describe('console: top consumers from the service', () => {
  const item = (id: string, requests: number, allowed: number, units = allowed) => ({ id, requests, allowed, rejectedQuota: requests - allowed, rejectedAuth: 0, rejectedForbidden: 0, units, wouldReject: 0 });
  const consumers = [{ id: 'c1', name: 'alpha', createdAt: '' }, { id: 'c2', name: 'bravo', createdAt: '' }];

  it('keeps the service\'s order (not re-sorted by name), names from the catalogue, denied = requests - allowed', () => {
    const view = { by: 'consumer', from: '', to: '', items: [item('c2', 10, 1, 3), item('c1', 10, 10), item('gone', 4, 4), item('', 2, 0)] };
    assert.deepEqual(topConsumerRows(view, consumers, 10), [
      { id: 'c2', name: 'bravo', requests: 10, allowed: 1, denied: 9, units: 3 },
      { id: 'c1', name: 'alpha', requests: 10, allowed: 10, denied: 0, units: 10 },
      { id: 'gone', name: 'gone', requests: 4, allowed: 4, denied: 0, units: 4 },
      { id: '', name: NO_CONSUMER, requests: 2, allowed: 0, denied: 2, units: 0 },
    ]);
  });

  it('at most n rows; an empty ranking is an empty table', () => {
    assert.deepEqual(topConsumerRows({ by: 'consumer', from: '', to: '', items: [item('c1', 3, 3), item('c2', 2, 2)] }, consumers, 1).map((r) => r.id), ['c1']);
    assert.deepEqual(topConsumerRows({ by: 'consumer', from: '', to: '', items: [] }, consumers, 10), []);
  });
});

describe('console: fleet', () => {
  const dist: DistributionView = {
    version: 'v2', compiledAt: null, configBytes: 1, keys: 0, targets: [],
    acks: [
      { target: 'default', proxy: 'p1', version: 'v2', status: 'applied', receivedAt: '' },
      { target: 'default', proxy: 'p2', version: 'v1', status: 'applied', receivedAt: '' },
      { target: 'edge', proxy: 'p3', version: 'v2', status: 'rejected', message: 'bad config', receivedAt: '' },
    ],
  };

  it('without GET /v1/fleet: proxies and convergence come from the acks', () => {
    const rows = fleetRows(undefined, dist);
    assert.deepEqual(rows.map((r) => [r.node, r.state, r.problems]), [['p1', 'current', ''], ['p2', 'behind', ''], ['p3', 'rejected', 'bad config']]);
    assert.deepEqual(convergenceRows(dist, rows).map((c) => [c.target, c.proxies, c.current, c.behind, c.oldestLaggard]),
      [['default', 2, 1, 1, 'p2'], ['edge', 1, 0, 1, 'p3']]);
  });

  it('with GET /v1/fleet and convergence: the service\'s own states and counts win; absent fields are tolerated', () => {
    const rows = fleetRows({ items: [{ node: 'n1', target: 'default', state: 'stale', flushFailed: 2 }, { node: 'n2' }] }, dist);
    assert.deepEqual(rows.map((r) => [r.node, r.state, r.configVersion, r.problems]), [['n1', 'stale', null, '2 failed flushes'], ['n2', 'unknown', null, '']]);
    const convergence = [{ target: 'default', version: 'v2', proxies: 9, current: 8, behind: 1, stale: 0, oldestLaggard: 'n9' }];
    assert.deepEqual(convergenceRows({ ...dist, convergence }, rows), convergence);
    assert.deepEqual(fleetRows(undefined, undefined), []);
  });
});

describe('console: capabilities and the per-operation breakdown', () => {
  it('reads what the service offers from its OpenAPI document; anything missing or malformed is "not offered"', () => {
    const doc = {
      paths: {
        '/v1/fleet': { get: {} },
        '/v1/usage': { get: { parameters: [{ in: 'query', name: 'keyId' }] } },
        '/v1/usage/export': { get: { parameters: [{ in: 'query', name: 'groupBy' }] } },
      },
    };
    assert.deepEqual(capabilitiesOf(doc), { fleet: true, usageByOperation: false, exportByOperation: true, usageTop: false });
    assert.deepEqual(capabilitiesOf(undefined), { fleet: false, usageByOperation: false, exportByOperation: false, usageTop: false });
    assert.equal(capabilitiesOf({ paths: { '/v1/usage/top': { get: { parameters: [{ in: 'query', name: 'by' }] } } } }).usageTop, true);
    assert.equal(capabilitiesOf({ paths: { '/v1/usage/top': { get: {} } } }).usageTop, false, 'a path without its parameters is not the ranking');
    assert.deepEqual(capabilitiesOf({ paths: { '/v1/usage': { get: { parameters: [{ in: 'query', name: 'operationId' }] } } } }).usageByOperation, true);
  });

  it('sums the export\'s hours per API and operation, filters, skips the trailer, and refuses a malformed line', () => {
    const lines = [
      { period_start: 'h1', consumer_id: 'c1', api_id: 'a1', operation_id: 'op1', requests: 3, units: 6, rejected_quota: 1, rejected_auth: 0, rejected_forbidden: 0, status_5xx: 1 },
      { period_start: 'h2', consumer_id: 'c1', api_id: 'a1', operation_id: 'op1', requests: 2, units: 4, rejected_quota: 0, rejected_auth: 0, rejected_forbidden: 0, status_5xx: 0 },
      { period_start: 'h1', consumer_id: 'c2', api_id: 'a1', operation_id: '', requests: 9, units: 9, rejected_quota: 0, rejected_auth: 0, rejected_forbidden: 0, status_5xx: 0 },
      { period_start: 'h1', consumer_id: 'c1', api_id: 'a2', operation_id: 'op9', requests: 1, units: 1, rejected_quota: 0, rejected_auth: 0, rejected_forbidden: 0, status_5xx: 0 },
      { end: true, rows: 4, next: null },
    ].map((l) => JSON.stringify(l)).join('\n') + '\n';
    assert.deepEqual(operationBreakdown(lines, {}).map((o) => [o.apiId, o.operationId, o.requests, o.units, o.rejectedQuota, o.status5xx]),
      [['a1', '', 9, 9, 0, 0], ['a1', 'op1', 5, 10, 1, 1], ['a2', 'op9', 1, 1, 0, 0]]);
    assert.deepEqual(operationBreakdown(lines, { apiId: 'a1', consumerId: 'c1' }).map((o) => [o.operationId, o.requests]), [['op1', 5]]);
    assert.throws(() => operationBreakdown('{"api_id":"a1"\n', {}));
    assert.deepEqual(hourAligned(T0 + 10, T0 + 3601), { from: T0, to: T0 + 7200 });
  });
});

describe('console: problem messages', () => {
  it('says the status and the detail (or title), with listed field errors, and survives a non-JSON body', () => {
    assert.equal(problemMessage(404, JSON.stringify({ title: 'Not Found', detail: "key 'k' does not exist" })), "404 key 'k' does not exist");
    assert.equal(problemMessage(400, JSON.stringify({ title: 'Bad Request', detail: 'body/planId bad', errors: [{ path: 'body/planId', message: 'bad' }] })), '400 body/planId bad');
    assert.equal(problemMessage(422, JSON.stringify({ title: 'Unprocessable Content', errors: [{ path: 'body/x', message: 'no' }] })), '422 Unprocessable Content (body/x no)');
    assert.equal(problemMessage(502, '<html>bad gateway</html>'), '502 <html>bad gateway</html>');
  });
});
