// `tollgate replay --policy`: recorded traffic through the current and a candidate configuration, each on its own
// host with the real filter (build/tollgate.wasm); the decisions that differ, totals per consumer, the CI threshold,
// the three input formats, and the key sources (static keys, a key-feed snapshot page, FeedKey JSONL).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decisionOf, exceeds, Totals, NO_KEY, UNKNOWN_KEY, type Change } from '../../host/replay/compare.js';
import {
  FormatError, parseEnvoyJsonLine, parseEnvoyTextLine, parseJsonlRequest, parseKeysFile, parseTimestamp, type RecordedRequest,
} from '../../host/replay/formats.js';
import { readReplayConfig } from '../../host/replay/config.js';
import { firstKeyLocation, PolicyRejectedError, preparePolicy, startPolicyReplay, withKey } from '../../host/replay/policy.js';

const root = new URL('../..', import.meta.url).pathname;
const wasmPath = join(root, 'build/tollgate.wasm');
/** 2026-01-01T00:00:00Z, a minute boundary. */
const T0 = 1767225600000;
const iso = (ms: number): string => new Date(ms).toISOString();
let dir = '';

// Digests of keys nobody holds: replay replaces static keys by its own synthetic ones, keeping id, consumer and plan.
const D1 = 'A'.repeat(43);
const D2 = 'B'.repeat(43);
const D3 = 'C'.repeat(43);

interface Cfg { [k: string]: unknown }
function config(goldPerMinute: number, extra: Cfg = {}): Cfg {
  return {
    version: 1,
    apis: [{ id: 'api_orders', pathPrefix: '/orders' }],
    plans: [
      { id: 'pln_gold', limits: [{ requests: goldPerMinute, per: 'minute' }], apiIds: ['api_orders'] },
      { id: 'pln_free', limits: [{ requests: 100, per: 'minute' }], apiIds: ['api_orders'] },
    ],
    keys: [[D1, 'key_a', 'con_a', 0], [D2, 'key_b', 'con_b', 1], [D3, 'key_a2', 'con_a', 0]],
    ...extra,
  };
}
const plugin = (c: Cfg) => readReplayConfig(JSON.stringify(c));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

function replay(...args: string[]) {
  return spawnSync('node', [join(root, 'bin/tollgate.mjs'), 'replay', '--wasm', wasmPath, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}
function outputLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** 8 requests of con_a (two keys) in one minute, one of con_b, one without a key, then one of con_a a minute later. */
const TRAFFIC: RecordedRequest[] = [
  ...Array.from({ length: 8 }, (_, i) => ({ line: i + 1, method: 'GET', path: `/orders/${i}`, keyId: i % 2 === 0 ? 'key_a' : 'key_a2', timestampMs: T0 + i * 1000 })),
  { line: 9, method: 'GET', path: '/orders/b', keyId: 'key_b', timestampMs: T0 + 9000 },
  { line: 10, method: 'GET', path: '/orders/none', timestampMs: T0 + 9500 },
  { line: 11, method: 'GET', path: '/orders/later', keyId: 'key_a', timestampMs: T0 + 61_000 },
];

async function replayAll(current: Cfg, candidate: Cfg, traffic: RecordedRequest[] = TRAFFIC, owners?: ReturnType<typeof parseKeysFile>) {
  const r = await startPolicyReplay({
    wasm: readFileSync(wasmPath), current: plugin(current), candidate: plugin(candidate), startMs: T0, threshold: { maxChanged: 0 },
    ...(owners !== undefined ? { owners } : {}),
  });
  try {
    const changes: Change[] = [];
    for (const req of traffic) {
      const c = await r.replay(req);
      if (c !== null) changes.push(c);
    }
    return { changes, summary: r.summary(), unknown: r.unknownKeyIds() };
  } finally {
    await r.close();
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-replay-policy-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a tighter limit in the candidate: newly denied requests counted per consumer (subscription quota across keys)', async () => {
  const { changes, summary } = await replayAll(config(5), config(3));
  // con_a's two keys share one subscription: the 4th and 5th requests of the minute pass today, get 429 in the
  // candidate; 6–8 are over both limits (same decision); a minute later both windows have rolled over.
  assert.deepEqual(changes.map((c) => c.line), [4, 5]);
  assert.deepEqual(changes[0], {
    line: 4, keyId: 'key_a2', consumer: 'con_a', method: 'GET', path: '/orders/3',
    current: { status: 200, reason: 'allowed' }, candidate: { status: 429, reason: 'quota-exceeded' },
  });
  assert.deepEqual(summary.consumers.con_a, { requests: 9, changed: 2, newlyDenied: 2, newlyAllowed: 0 });
  assert.deepEqual(summary.consumers.con_b, { requests: 1, changed: 0, newlyDenied: 0, newlyAllowed: 0 });
  assert.deepEqual(summary.consumers[NO_KEY], { requests: 1, changed: 0, newlyDenied: 0, newlyAllowed: 0 });
  assert.equal(summary.requests, 11);
  assert.equal(summary.changed, 2);
  assert.equal(summary.changedPct, 18.18);
  assert.equal(summary.exceeded, true);
});

test('a looser limit: newly allowed; identical policies: no change', async () => {
  const looser = await replayAll(config(5), config(7));
  assert.deepEqual(looser.changes.map((c) => [c.line, c.current.reason, c.candidate.reason]),
    [[6, 'quota-exceeded', 'allowed'], [7, 'quota-exceeded', 'allowed']]);
  assert.equal(looser.summary.newlyAllowed, 2);
  assert.equal(looser.summary.newlyDenied, 0);
  const same = await replayAll(config(5), config(5));
  assert.deepEqual(same.changes, []);
  assert.equal(same.summary.changed, 0);
  assert.equal(same.summary.exceeded, false);
});

test('the clock follows recorded times (never backwards) and advanceMs, the same on both hosts', async () => {
  // 1/min in the candidate. Line 2 started before line 1 (Envoy logs at the end): the clock stays in minute 2, where
  // the candidate's one request is spent (moving back into minute 1 would find a fresh window); 3 is still minute 2,
  // 4 is minute 3.
  const traffic: RecordedRequest[] = [
    { line: 1, method: 'GET', path: '/orders', keyId: 'key_a', timestampMs: T0 + 61_000 },
    { line: 2, method: 'GET', path: '/orders', keyId: 'key_a', timestampMs: T0 + 59_000 },
    { line: 3, method: 'GET', path: '/orders', keyId: 'key_a', advanceMs: 30_000 },
    { line: 4, method: 'GET', path: '/orders', keyId: 'key_a', advanceMs: 30_000 },
  ];
  const { changes } = await replayAll(config(5), config(1), traffic);
  assert.deepEqual(changes.map((c) => c.line), [2, 3]);
});

test('a plan the candidate lacks: its keys have no plan there, and the decision says so', async () => {
  const candidate = config(5);
  candidate.plans = (candidate.plans as Cfg[]).filter((p) => p.id !== 'pln_free');
  const { changes, summary } = await replayAll(config(5), candidate);
  assert.deepEqual(changes.map((c) => [c.line, c.consumer, c.current, c.candidate]),
    [[9, 'con_b', { status: 200, reason: 'allowed' }, { status: 401, reason: 'no-plan' }]]);
  assert.equal(summary.consumers.con_b!.newlyDenied, 1);
});

test('requests without a key replay without one; unknown key ids with a key neither configuration knows', async () => {
  const traffic: RecordedRequest[] = [
    { line: 1, method: 'GET', path: '/orders', headers: { 'x-api-key': 'redacted' } },
    { line: 2, method: 'GET', path: '/orders', keyId: 'key_gone' },
    { line: 3, method: 'GET', path: '/elsewhere' },
  ];
  const candidate = config(5, { denyUnmatched: true });
  const { changes, summary, unknown } = await replayAll(config(5), candidate, traffic);
  // A recorded copy of the key header is dropped: "without a key id" means without a key.
  assert.deepEqual(changes.map((c) => [c.line, c.keyId, c.consumer, c.current, c.candidate]), [
    [3, null, null, { status: 200, reason: 'passed' }, { status: 403, reason: 'forbidden' }],
  ]);
  assert.deepEqual(summary.consumers[NO_KEY], { requests: 2, changed: 1, newlyDenied: 1, newlyAllowed: 0 });
  assert.deepEqual(summary.consumers[UNKNOWN_KEY], { requests: 1, changed: 0, newlyDenied: 0, newlyAllowed: 0 });
  assert.deepEqual(unknown, ['key_gone']);
});

test('keys from --keys (snapshot page or FeedKey JSONL): plans by id, expiry on the recorded clock', async () => {
  const page = JSON.stringify({
    version: 1, kind: 'snapshot', epoch: 'e', revision: 7, next: null,
    keys: [[D1, 'key_x', 'con_x', 'pln_free', 0], [D2, 'key_old', 'con_y', 'pln_free', T0 / 1000 + 30]],
  }, null, 2);
  const owners = parseKeysFile(page);
  assert.deepEqual(owners.get('key_x'), { keyId: 'key_x', consumerId: 'con_x', planId: 'pln_free', expiresAt: 0 });
  assert.deepEqual(parseKeysFile(`${JSON.stringify([D1, 'key_x', 'con_x', 'pln_free', 0])}\n\n${JSON.stringify([D1, 'key_x', 'con_z', 'pln_gold', 0])}\n`).get('key_x')!.consumerId, 'con_z');
  const candidate = config(5);
  candidate.plans = [(candidate.plans as Cfg[])[0]!]; // pln_free gone
  const traffic: RecordedRequest[] = [
    { line: 1, method: 'GET', path: '/orders', keyId: 'key_x', timestampMs: T0 },
    { line: 2, method: 'GET', path: '/orders', keyId: 'key_old', timestampMs: T0 + 1000 },
    { line: 3, method: 'GET', path: '/orders', keyId: 'key_old', timestampMs: T0 + 31_000 },
    { line: 4, method: 'GET', path: '/orders', keyId: 'key_a', timestampMs: T0 + 32_000 },
  ];
  const { changes, summary } = await replayAll(config(5), candidate, traffic, owners);
  // key_old expired at T0+30 s: refused by both from then on (no change); key_a is not in --keys: unknown.
  assert.deepEqual(changes.map((c) => [c.line, c.candidate.reason]), [[1, 'no-plan'], [2, 'no-plan']]);
  assert.deepEqual(summary.consumers.con_y, { requests: 2, changed: 1, newlyDenied: 1, newlyAllowed: 0 });
  assert.equal(summary.consumers[UNKNOWN_KEY]!.requests, 1);
  const bad: Array<[string, RegExp]> = [
    ['{"version":1,"kind":"delta","keys":[]}', /line 1: expected a key-feed snapshot page/],
    [`${JSON.stringify([D1, 'key_x', 'con_x', 'pln_free', 0])}\n[1,2]`, /line 2: the line must be a FeedKey/],
    [JSON.stringify([D1, 'key x', 'con_x', 'pln_free', 0]), /keyId must be an id/],
    [JSON.stringify([D1, 'key_x', 'con_x', 'pln_free', -1]), /expiresAt must be unix seconds/],
    ['{"version":1,"kind":"snapshot","keys":[[1]]}', /keys\[0\] must be a FeedKey/],
    ['nope', /line 1: not JSON/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseKeysFile(text), message, text);
});

test('the key goes where the current configuration looks first; usage and keyFeed are removed for the replay', () => {
  const usage = { cluster: 'c', authority: 'a', path: '/v1/usage/reports', intervalMs: 1000, timeoutMs: 1000, tokenHeader: 'authorization', token: 't' };
  const p = plugin(config(5, { usage, keyFeed: { snapshotPath: '/s', deltasPath: '/d', waitS: 0, pageKeys: 10, retryMs: 100 }, keyLocations: [{ query: 'api_key' }] }));
  const prepared = preparePolicy(p, new Map([['key_a', { keyId: 'key_a', consumerId: 'con_a', planId: 'pln_free', expiresAt: 0 }],
    ['key_q', { keyId: 'key_q', consumerId: 'con_q', planId: 'pln_none', expiresAt: 0 }]]), new Map([['key_a', 'secret-a'], ['key_q', 'secret-q']]));
  const cfg = JSON.parse(prepared.pluginConfig) as Cfg;
  assert.equal(cfg.usage, undefined);
  assert.equal(cfg.keyFeed, undefined);
  assert.deepEqual(cfg.keys, [[createHash('sha256').update('secret-a', 'utf8').digest('base64url'), 'key_a', 'con_a', 1]]);
  assert.deepEqual([...prepared.planless], ['key_q']);
  assert.deepEqual(firstKeyLocation(p), { query: 'api_key' });
  assert.equal(withKey({ line: 1, method: 'GET', path: '/orders?x=1' }, { query: 'api_key' }, 'k', []).path, '/orders?x=1&api_key=k');
  assert.deepEqual(withKey({ line: 1, method: 'GET', path: '/o', headers: [['X-Api-Key', 'old'], ['a', 'b']] },
    { header: 'authorization', prefix: 'Bearer ' }, 'k', ['x-api-key']).headers, [['a', 'b'], ['authorization', 'Bearer k']]);
});

test('a key location the candidate drops: the client keeps sending where the current one looks (missing-key there)', async () => {
  const { changes } = await replayAll(config(5), config(5, { keyLocations: [{ header: 'authorization', prefix: 'Bearer ' }] }), TRAFFIC.slice(8, 9));
  assert.deepEqual(changes.map((c) => c.candidate), [{ status: 401, reason: 'missing-key' }]);
});

test('a candidate the filter refuses is a PolicyRejectedError naming it', async () => {
  await assert.rejects(startPolicyReplay({ wasm: readFileSync(wasmPath), current: plugin(config(5)), candidate: plugin({ version: 2 }) }),
    (err: unknown) => err instanceof PolicyRejectedError && err.which === 'candidate' && /ConfigureFailed/.test(err.message));
});

test('decisions: problem type of a local reply, host details otherwise, allowed vs passed by identity headers', () => {
  const body = (s: string) => new TextEncoder().encode(s);
  const reply = { status: 429, localReply: true, body: body('{"type":"urn:tollgate:problem:quota-exceeded","status":429}') };
  assert.deepEqual(decisionOf(reply, []), { status: 429, reason: 'quota-exceeded' });
  assert.deepEqual(decisionOf({ status: 503, localReply: true, body: body(''), details: 'wasm_fail_stream' }, []), { status: 503, reason: 'wasm_fail_stream' });
  assert.deepEqual(decisionOf({ status: 401, localReply: true, body: body('{"type":"urn:tollgate:problem:invalid-key"}') }, [], true), { status: 401, reason: 'no-plan' });
  const up = (headers: Array<[string, string]>) => ({ status: 200, localReply: false, body: body(''), upstreamRequest: { method: 'GET', path: '/', authority: '', headers, body: body('') } });
  assert.deepEqual(decisionOf(up([['x-tollgate-key-id', 'k']]), ['x-tollgate-key-id']), { status: 200, reason: 'allowed' });
  assert.deepEqual(decisionOf(up([['x-other', 'k']]), ['x-tollgate-key-id']), { status: 200, reason: 'passed' });
  const t = new Totals();
  t.add('c', { status: 200, reason: 'allowed' }, { status: 401, reason: 'missing-key' });
  t.add('c', { status: 429, reason: 'quota-exceeded' }, { status: 401, reason: 'invalid-key' });
  t.add('c', { status: 200, reason: 'allowed' }, { status: 200, reason: 'allowed' });
  assert.deepEqual(t.summary(null).consumers.c, { requests: 3, changed: 2, newlyDenied: 1, newlyAllowed: 0 });
  assert.equal(exceeds({ requests: 30_001, changed: 1, newlyAllowed: 0, newlyDenied: 0 }, { maxChangedPct: 0.00333 }), true);
  assert.equal(exceeds({ requests: 30_001, changed: 1, newlyAllowed: 0, newlyDenied: 0 }, { maxChangedPct: 0.004 }), false);
  assert.equal(exceeds({ requests: 0, changed: 0, newlyAllowed: 0, newlyDenied: 0 }, { maxChangedPct: 0 }), false);
  assert.equal(exceeds({ requests: 5, changed: 3, newlyAllowed: 0, newlyDenied: 0 }, { maxChanged: 3 }), false);
  assert.equal(exceeds({ requests: 5, changed: 4, newlyAllowed: 0, newlyDenied: 0 }, { maxChanged: 3 }), true);
});

test('timestamps: ms since epoch or RFC 3339; impossible dates refused', () => {
  assert.equal(parseTimestamp('2026-01-01T00:00:01.250Z'), T0 + 1250);
  assert.equal(parseTimestamp('2026-01-01 01:00:00.123456+01:00'), T0 + 123);
  assert.equal(parseTimestamp(T0), T0);
  for (const bad of ['2026-02-30T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01', 'yesterday', -1, '2026-01-01T00:00:00+25:00', null]) {
    assert.equal(parseTimestamp(bad), undefined, String(bad));
  }
});

const envoyLine = (ms: number, method: string, path: string, extra: string, ua = 'curl/8.5.0'): string =>
  `[${iso(ms)}] "${method} ${path} HTTP/1.1" 200 - 0 15 3 2 "10.0.0.9" "${ua}" "6f1c7c2e-3a4b-4c5d-9e8f-0a1b2c3d4e5f" "shop.example.com" "10.0.2.1:8080"${extra}`;

test('input formats: JSONL, Envoy default text (appended key id), Envoy JSON (renamed keys); bad lines name their number', () => {
  assert.deepEqual(parseJsonlRequest('{"path":"/o","keyId":"key_a","timestamp":"2026-01-01T00:00:00Z","worker":1}', 4),
    { line: 4, method: 'GET', path: '/o', worker: 1, timestampMs: T0, keyId: 'key_a' });
  assert.throws(() => parseJsonlRequest('{"timestamp":"noon"}', 2), /line 2: "timestamp" must be/);
  assert.throws(() => parseJsonlRequest('{"timestamp":1,"advanceMs":1}', 2), /not both/);
  assert.throws(() => parseJsonlRequest('{"keyId":"a b"}', 3), /line 3: "keyId" must be a key id/);

  // A user agent holding a quote (Envoy does not escape it) still parses.
  assert.deepEqual(parseEnvoyTextLine(envoyLine(T0, 'POST', '/orders?x=1', ' "key_a" "con_a"', 'odd "agent"'), 7),
    { line: 7, method: 'POST', path: '/orders?x=1', timestampMs: T0, authority: 'shop.example.com', keyId: 'key_a' });
  assert.deepEqual(parseEnvoyTextLine(envoyLine(T0, 'GET', '/o', ' "con_a" "key_a"'), 1, { keyField: 2 }).keyId, 'key_a');
  assert.equal(parseEnvoyTextLine(envoyLine(T0, 'GET', '/o', ' "-"'), 1).keyId, undefined);
  assert.equal(parseEnvoyTextLine(envoyLine(T0, 'GET', '/o', ''), 1).keyId, undefined);
  assert.throws(() => parseEnvoyTextLine('GET /orders 200', 9), (e: unknown) => e instanceof FormatError && e.line === 9 && /default format/.test(e.message));
  assert.throws(() => parseEnvoyTextLine(envoyLine(T0, '-', '-', ''), 3), /line 3: no request line/);
  assert.throws(() => parseEnvoyTextLine(envoyLine(T0, 'GET', '/', '').replace(/^\[[^\]]+\]/, '[2026-13-01T00:00:00.000Z]'), 3), /START_TIME/);

  const json = { start_time: iso(T0), method: 'GET', path: '/orders', authority: 'shop', response_code: 200, tollgate_key: 'key_b', user_agent: null };
  assert.deepEqual(parseEnvoyJsonLine(JSON.stringify(json), 2, { method: 'method', path: 'path', authority: 'authority', start_time: 'start_time', key_id: 'tollgate_key' }),
    { line: 2, method: 'GET', path: '/orders', authority: 'shop', timestampMs: T0, keyId: 'key_b' });
  assert.equal(parseEnvoyJsonLine(JSON.stringify({ ...json, key_id: null }), 2).keyId, undefined);
  assert.throws(() => parseEnvoyJsonLine(JSON.stringify({ path: '/o' }), 5), /line 5: "method" \(method\) is missing/);
  assert.throws(() => parseEnvoyJsonLine(JSON.stringify({ method: 'GET', path: 7 }), 5), /"path" \(path\) must be a non-empty string/);
  assert.throws(() => parseEnvoyJsonLine('[1]', 6), /line 6: expected a JSON object/);
  assert.throws(() => parseEnvoyJsonLine(JSON.stringify({ ...json, key_id: 'a b' }), 6), /line 6: "key_id" \(key_id\) must be a key id/);
  assert.throws(() => parseEnvoyTextLine(envoyLine(T0, 'GET', '/o', ' "a/b"'), 8), /line 8: appended field 1 \(key id\) must be a key id/);
});

test('CLI: identical policies exit 0 with no change lines; a tighter one over --max-changed exits 1', () => {
  const current = file('current.json', JSON.stringify(config(5)));
  const tighter = file('tighter.json', JSON.stringify(config(3)));
  const traffic = file('traffic.jsonl', jsonl(TRAFFIC.map(({ line: _l, timestampMs, ...r }) => ({ ...r, timestamp: iso(timestampMs!) }))));
  const same = replay('--config', current, '--policy', current, '--max-changed', '0', traffic);
  assert.equal(same.status, 0, same.stderr);
  const lines = outputLines(same.stdout);
  assert.equal(lines.length, 1);
  assert.equal((lines[0]!.summary as { changed: number; requests: number }).changed, 0);
  assert.equal((lines[0]!.summary as { requests: number }).requests, 11);

  const over = replay('--config', current, '--policy', tighter, '--max-changed', '1', traffic);
  assert.equal(over.status, 1, over.stderr);
  assert.match(over.stderr, /2 of 11 requests .* change decision: over --max-changed 1/);
  const out = outputLines(over.stdout);
  assert.deepEqual(out.slice(0, 2).map((l) => [l.line, l.consumer]), [[4, 'con_a'], [5, 'con_a']]);
  assert.equal((out[2]!.summary as { exceeded: boolean }).exceeded, true);

  assert.equal(replay('--config', current, '--policy', tighter, '--max-changed', '2', traffic).status, 0);
  assert.equal(replay('--config', current, '--policy', tighter, '--max-changed-pct', '10', traffic).status, 1);
  assert.equal(replay('--config', current, '--policy', tighter, '--max-changed-pct', '20', traffic).status, 0);

  // --output: change lines and summary in the file, the summary alone on stdout; --summary-only: no change lines.
  const changes = join(dir, 'changes.jsonl');
  const withFile = replay('--config', current, '--policy', tighter, '--output', changes, traffic);
  assert.equal(withFile.status, 0, withFile.stderr);
  assert.equal(outputLines(readFileSync(changes, 'utf8')).length, 3);
  assert.deepEqual(Object.keys(outputLines(withFile.stdout)[0]!), ['summary']);
  const summaryOnly = replay('--config', current, '--policy', tighter, '--summary-only', traffic);
  assert.equal(outputLines(summaryOnly.stdout).length, 1);
});

test('CLI: an Envoy text access log and a WasmPlugin YAML candidate with keyFeed (keys from --keys)', () => {
  const log = file('access.log', [
    envoyLine(T0, 'GET', '/orders/1', ' "key_a"'),
    envoyLine(T0 + 1000, 'GET', '/orders/2', ' "key_a"'),
    envoyLine(T0 + 2000, 'GET', '/orders/3', ' "-"'),
    '',
  ].join('\n'));
  const keys = file('keys.jsonl', jsonl([[D1, 'key_a', 'con_a', 'pln_gold', 0]]));
  const current = file('current.json', JSON.stringify(config(5)));
  const yaml = file('candidate.yaml', [
    'apiVersion: extensions.istio.io/v1alpha1', 'kind: WasmPlugin', 'metadata:', '  name: tollgate', 'spec:', '  pluginName: tollgate',
    '  pluginConfig:', '    version: 1', '    apis: [{id: api_orders, pathPrefix: /orders}]',
    '    plans: [{id: pln_gold, limits: [{requests: 1, per: minute}], apiIds: [api_orders]}]',
    '    usage: {cluster: outbound|7070||control, authority: control, path: /v1/usage/reports, intervalMs: 10000, timeoutMs: 5000, tokenHeader: authorization, token: Bearer x}',
    '    keyFeed: {snapshotPath: /v1/keyfeed/snapshot, deltasPath: /v1/keyfeed/deltas, waitS: 25, pageKeys: 2000, retryMs: 2000}', '',
  ].join('\n'));
  const r = replay('--config', current, '--policy', yaml, '--keys', keys, '--format', 'envoy-text', '--max-changed', '1', log);
  assert.equal(r.status, 0, r.stderr);
  const out = outputLines(r.stdout);
  // The key feed is out of the way: the first request is allowed by the candidate too, the second is over its 1/min.
  assert.deepEqual(out.map((l) => l.line ?? 'summary'), [2, 'summary']);
  assert.deepEqual(out[0]!.candidate, { status: 429, reason: 'quota-exceeded' });
  assert.deepEqual((out[1]!.summary as { consumers: Record<string, unknown> }).consumers[NO_KEY], { requests: 1, changed: 0, newlyDenied: 0, newlyAllowed: 0 });
});

test('CLI: an Envoy JSON access log with a renamed key-id field; bad lines exit 2 with the line, or are skipped', () => {
  const current = file('current.json', JSON.stringify(config(5)));
  const tighter = file('tighter.json', JSON.stringify(config(1)));
  const rows = [1, 2, 3].map((i) => JSON.stringify({ start_time: iso(T0 + i), method: 'GET', path: `/orders/${i}`, authority: 'shop', tg_key: 'key_b' }));
  const good = file('access.json', rows.join('\n'));
  const r = replay('--config', current, '--policy', tighter, '--format', 'envoy-json', '--json-field', 'key_id=tg_key', good);
  assert.equal(r.status, 0, r.stderr);
  assert.equal((outputLines(r.stdout).at(-1)!.summary as { consumers: Record<string, { requests: number }> }).consumers.con_b!.requests, 3);

  const bad = file('bad.json', [rows[0], '{"method":"GET"', rows[1]].join('\n'));
  const refused = replay('--config', current, '--policy', tighter, '--format', 'envoy-json', bad);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /bad\.json: line 2: not JSON/);
  assert.equal(refused.stdout, '', 'nothing printed before the whole file was checked');
  assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');

  const skipped = replay('--config', current, '--policy', tighter, '--format', 'envoy-json', '--skip-bad', bad);
  assert.equal(skipped.status, 0, skipped.stderr);
  const summary = outputLines(skipped.stdout).at(-1)!.summary as { requests: number; skippedLines: number };
  assert.deepEqual([summary.requests, summary.skippedLines], [2, 1]);
});

test('CLI: usage errors exit 2, a refused candidate exits 1, the plain replay refuses --policy-only options', () => {
  const current = file('current.json', JSON.stringify(config(5)));
  const traffic = file('one.jsonl', jsonl([{ path: '/orders' }]));
  const cases: Array<[string[], RegExp]> = [
    [['--config', current, '--policy', current, '--max-changed', '1', '--max-changed-pct', '1', traffic], /not both/],
    [['--config', current, '--policy', current, '--max-changed-pct', '101', traffic], /--max-changed-pct must be a number 0 … 100/],
    [['--config', current, '--policy', current, '--max-changed=-1', traffic], /--max-changed must be an integer ≥ 0/],
    [['--config', current, '--policy', current, '--format', 'nginx', traffic], /--format must be one of jsonl, envoy-text, envoy-json/],
    [['--config', current, '--policy', current, '--json-field', 'user=ua', traffic], /bad --json-field 'user=ua'/],
    [['--config', current, '--policy', join(dir, 'missing.json'), traffic], /cannot read --policy/],
    [['--config', current, '--policy', current, '--keys', file('badkeys.jsonl', '[1]\n'), traffic], /--keys .*line 1: the line must be a FeedKey/],
    [['--config', current, '--policy', current, join(dir, 'missing.jsonl')], /cannot read traffic/],
    [['--config', current, '--policy', current, dir], /cannot read traffic .*not a regular file/],
    [['--config', current, '--policy', current, '--cluster', 'a=b:1', traffic], /--cluster has no use with --policy/],
    [['--config', current, '--max-changed', '1', traffic], /--max-changed only applies with --policy/],
    [['--config', current, '--policy', file('list.json', '[1]'), traffic], /--policy: the filter configuration must be a JSON object/],
  ];
  for (const [args, message] of cases) {
    const r = replay(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
  if (existsSync('/dev/full')) {
    const full = replay('--config', current, '--policy', current, '--output', '/dev/full', traffic);
    assert.equal(full.status, 2);
    assert.match(full.stderr, /cannot write --output \/dev\/full: ENOSPC/);
  }
  const rejected = replay('--config', current, '--policy', file('v2.json', '{"version":2}'), traffic);
  assert.equal(rejected.status, 1);
  assert.match(rejected.stderr, /candidate configuration rejected: .*ConfigureFailed/);
});
