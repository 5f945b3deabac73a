// `tollgate replay` spawned as a real process: JSONL in, one JSON line per request out, a final metrics line, and a
// non-zero exit with the reason on stderr when the configuration is rejected.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReplayLine } from '../../../host/replay/cli.js';

const root = new URL('../../..', import.meta.url).pathname;
const wasm = join(root, 'build/fixtures/deny-header.wasm');
let dir = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-replay-'));
  writeFileSync(join(dir, 'requests.jsonl'), [
    JSON.stringify({ method: 'GET', path: '/orders?x=1', headers: { 'x-api-key': 'k' }, authority: 'shop.local' }),
    '',
    JSON.stringify({ method: 'POST', path: '/orders', headers: { 'x-deny': '1' }, body: 'b', advanceMs: 1000, worker: 1 }),
  ].join('\n'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1 }));
  writeFileSync(join(dir, 'reject.json'), JSON.stringify([1]));
  writeFileSync(join(dir, 'wasmplugin.yaml'), [
    'apiVersion: extensions.istio.io/v1alpha1', 'kind: WasmPlugin', 'metadata:', '  name: tollgate', 'spec:',
    '  pluginName: tollgate', '  failStrategy: FAIL_OPEN', '  pluginConfig:', '    version: 1', '',
  ].join('\n'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

function replay(...args: string[]) {
  return spawnSync('node', [join(root, 'bin/tollgate.mjs'), 'replay', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

test('replay: one output line per request plus a metrics line', () => {
  const r = replay('--wasm', wasm, '--config', join(dir, 'config.json'), join(dir, 'requests.jsonl'));
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 3);
  const [ok, denied, metrics] = lines;
  assert.equal(ok!.status, 200);
  assert.equal(ok!.localReply, false);
  const upstream = ok!.upstream as { path: string; headers: Array<[string, string]> };
  assert.equal(upstream.path, '/orders?x=1');
  assert.ok(upstream.headers.some(([k, v]) => k === 'x-api-key' && v === 'k'));
  assert.deepEqual(ok!.hostCalls, { proxy_increment_metric: 1, proxy_get_header_map_value: 1 });
  assert.equal(ok!.worker, 0);
  assert.equal(denied!.status, 403);
  assert.equal(denied!.localReply, true);
  assert.equal(denied!.body, 'denied');
  assert.equal(denied!.upstream, null);
  assert.equal(denied!.worker, 1);
  assert.ok((denied!.headers as Array<[string, string]>).some(([k, v]) => k === 'x-reason' && v === 'test'));
  assert.deepEqual(metrics, { metrics: { 'replay.requests': 2 } });
});

test('replay: a WasmPlugin YAML is accepted (spec.pluginConfig is used)', () => {
  const r = replay('--wasm', wasm, '--config', join(dir, 'wasmplugin.yaml'), '--workers', '1', join(dir, 'requests.jsonl'));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 3);
});

test('replay: a rejected configuration exits non-zero with the reason on stderr', () => {
  const r = replay('--wasm', wasm, '--config', join(dir, 'reject.json'), join(dir, 'requests.jsonl'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /configuration rejected: .*ConfigureFailed/);
  assert.equal(r.stdout, '');
});

test('replay: --help prints usage; missing arguments exit 2', () => {
  const help = replay('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: tollgate replay/);
  assert.equal(replay('--wasm', wasm).status, 2);
});

test('replay: bad input is a clear error with exit 2 and no partial output, never a crash', () => {
  writeFileSync(join(dir, 'bad.jsonl'), [JSON.stringify({ method: 'GET', path: '/' }), 'null'].join('\n'));
  const cases: Array<[string[], RegExp]> = [
    [['--config', join(dir, 'missing.json'), join(dir, 'requests.jsonl')], /cannot read --config .*missing\.json/],
    [['--config', join(dir, 'config.json'), '--workers', '0', join(dir, 'requests.jsonl')], /--workers must be an integer ≥ 1/],
    [['--config', join(dir, 'config.json'), join(dir, 'bad.jsonl')], /line 2: expected a JSON object/],
  ];
  for (const [args, message] of cases) {
    const r = replay('--wasm', wasm, ...args);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stdout, '');
  }
});

test('replay input lines are checked field by field', () => {
  assert.deepEqual(parseReplayLine('{"method":"POST","headers":[["a","1"]],"worker":1,"advanceMs":5}', 1),
    { method: 'POST', headers: [['a', '1']], worker: 1, advanceMs: 5 });
  const bad: Array<[string, RegExp]> = [
    ['{"method":', /line 3: not JSON/],
    ['[1]', /expected a JSON object/],
    ['{"path":7}', /"path" must be a string/],
    ['{"headers":{"a":1}}', /"headers" must be/],
    ['{"headers":[["a"]]}', /"headers" must be/],
    ['{"worker":-1}', /"worker" must be an integer/],
    ['{"worker":1.5}', /"worker" must be an integer/],
    ['{"advanceMs":-5}', /"advanceMs" must be a number/],
    ['{"advanceMs":"5"}', /"advanceMs" must be a number/],
  ];
  for (const [line, message] of bad) assert.throws(() => parseReplayLine(line, 3), message, line);
});
