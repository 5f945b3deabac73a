import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ago, formatStatus, statusWriter } from '../../mesh/status-line.js';
import { curlLines, adminTokenLine } from '../../mesh/instructions.js';
import { filterCounts } from '../../mesh/filter-metrics.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const out = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } }) as Writable & { isTTY?: boolean; columns?: number };
  out.isTTY = isTTY;
  out.columns = 200;
  return { out, text: () => chunks.join('') };
}

describe('status line', () => {
  it('formats counts, version, flush age and control state', () => {
    const line = formatStatus({ allowed: 12, denied: 3, version: '0123456789abcdef', lastFlushAt: 1000, controlUp: false, controlRestarts: 2, feedKeys: 5, feedRevision: 42 }, 4000);
    assert.equal(line, 'allowed 12 · denied 3 · config 0123456789ab · keys 5 (rev 42) · last flush 3s ago · control DOWN (restarted 2×)');
    assert.match(formatStatus({ allowed: 0, denied: 0, controlUp: true, controlRestarts: 0 }, 0), /· keys none yet ·/);
    assert.match(formatStatus({ allowed: 0, denied: 0, controlUp: true, controlRestarts: 0 }, 0), /config none · keys none yet · last flush never · control up$/);
    assert.match(formatStatus({ allowed: 0, denied: 0, controlUp: true, controlRestarts: 0, vmFailures: 2 }, 0), /control up · VM failures 2$/);
  });
  it('says ages compactly', () => {
    assert.deepEqual([ago(undefined, 0), ago(0, 59_000), ago(0, 61_000), ago(0, 3_725_000)], ['never', '59s ago', '1m01s ago', '1h02m ago']);
  });
  it('rewrites one line in place on a terminal and redraws it after a log line', () => {
    const { out, text } = sink(true);
    const w = statusWriter(out);
    w.update('a');
    w.update('a');
    w.update('b');
    w.log('hello');
    w.stop();
    assert.equal(text(), '\r\x1b[2Ka\r\x1b[2Kb\r\x1b[2Khello\n\r\x1b[2Kb\n');
  });
  it('prints at most one line per interval when not on a terminal', () => {
    const { out, text } = sink(false);
    let t = 0;
    const w = statusWriter(out, { intervalMs: 30_000, now: () => t });
    w.update('one');
    t = 10_000;
    w.update('two');
    t = 30_000;
    w.update('three');
    assert.equal(text(), 'status: one\nstatus: three\n');
  });
});

describe('newcomer instructions', () => {
  const endpoints = { proxyUrl: 'http://127.0.0.1:10000', controlUrl: 'http://127.0.0.1:7070', tokensPath: '/h/tokens.json' };
  const seed = { apiId: 'api_1', planId: 'pln_1', consumerId: 'con_1', keyId: 'key_1', seededAt: '' };
  it('on first start shows the key once and curl lines for 200, 429, 401 and usage', () => {
    const text = curlLines(endpoints, seed, 'tgk_secret').join('\n');
    assert.match(text, /export TOLLGATE_DEMO_KEY='tgk_secret'/);
    assert.match(text, /curl -i -H "x-api-key: \$TOLLGATE_DEMO_KEY" http:\/\/127\.0\.0\.1:10000\/demo\/hello/);
    assert.match(text, /for i in 1 2 3 4 5 6/);
    assert.match(text, /curl -i http:\/\/127\.0\.0\.1:10000\/demo\/hello/);
    assert.match(text, /\/v1\/usage\?keyId=key_1/);
  });
  it('on later starts says how to create a new key instead of showing one', () => {
    const text = curlLines(endpoints, seed, undefined).join('\n');
    assert.doesNotMatch(text, /tgk_/);
    assert.match(text, /-X POST .*\/v1\/consumers\/con_1\/keys/);
    assert.match(text, /"planId":"pln_1"/);
  });
  it('on later starts queries usage by the demo consumer (the new key id is not known when the lines are printed)', () => {
    const text = curlLines(endpoints, seed, undefined).join('\n');
    assert.match(text, /\/v1\/usage\?consumerId=con_1&granularity=minute/);
    assert.doesNotMatch(text, /keyId=key_1/);
  });
  it('the later-start lines run in a real shell: the stored admin token is read, the new key is extracted', () => {
    const dir = mkdtempSync(join(tmpdir(), "tollgate it's here "));
    try {
      const tokensPath = join(dir, 'tokens.json');
      writeFileSync(tokensPath, JSON.stringify({ admin: 'tga_stored', report: 'tgr_x' }));
      const lines = [adminTokenLine({ ...endpoints, tokensPath }, { kind: 'stored' }), curlLines({ ...endpoints, tokensPath }, seed, undefined)[0]!];
      // curl is replaced by a shell function that checks the token it was given and answers like the control service.
      const script = [
        `curl() { case "$*" in *"Bearer tga_stored"*) echo '{"id":"key_2","key":"tgk_fresh"}';; *) echo '{}';; esac; }`,
        ...lines,
        'printf "%s %s" "$TOLLGATE_ADMIN_TOKEN" "$TOLLGATE_DEMO_KEY"',
      ].join('\n');
      const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
      assert.equal(out, 'tga_stored tgk_fresh');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('prints the admin token only when it was generated', () => {
    assert.match(adminTokenLine(endpoints, { kind: 'generated', token: 'tga_x' }), /export TOLLGATE_ADMIN_TOKEN='tga_x'/);
    assert.match(adminTokenLine(endpoints, { kind: 'stored' }), /node -p 'require\("\/h\/tokens\.json"\)\.admin'/);
    assert.doesNotMatch(adminTokenLine(endpoints, { kind: 'stored' }), /tga_/);
    assert.match(adminTokenLine(endpoints, { kind: 'environment' }), /^# admin token: the TOLLGATE_ADMIN_TOKEN/);
  });
});

describe('filter counters for the status line', () => {
  it('sums allowed, every denied_* reason and successful flushes; ignores the rest', () => {
    assert.deepEqual(filterCounts([
      { name: 'tollgate_allowed', type: 'counter', value: 7 },
      { name: 'tollgate_denied_auth', type: 'counter', value: 2 },
      { name: 'tollgate_denied_quota', type: 'counter', value: 3 },
      { name: 'tollgate_denied_forbidden', type: 'counter', value: 1 },
      { name: 'tollgate_flush_ok', type: 'counter', value: 4 },
      { name: 'tollgate_flush_failed', type: 'counter', value: 9 },
      { name: 'tollgate_allowed', type: 'gauge', value: 100 },
      { name: 'other_allowed', type: 'counter', value: 100 },
    ]), { allowed: 7, denied: 6, flushesOk: 4 });
  });
  it('reads the key feed\'s gauges once a snapshot has landed (revision > 0); an empty set shows 0 keys', () => {
    assert.deepEqual(filterCounts([
      { name: 'tollgate_keyfeed_revision', type: 'gauge', value: 17 }, { name: 'tollgate_keyfeed_keys', type: 'gauge', value: 3 },
    ]), { allowed: 0, denied: 0, flushesOk: 0, feedRevision: 17, feedKeys: 3 });
    assert.deepEqual(filterCounts([{ name: 'tollgate_keyfeed_revision', type: 'gauge', value: 4 }, { name: 'tollgate_keyfeed_keys', type: 'gauge', value: 0 }]),
      { allowed: 0, denied: 0, flushesOk: 0, feedRevision: 4, feedKeys: 0 });
    assert.deepEqual(filterCounts([{ name: 'tollgate_keyfeed_revision', type: 'gauge', value: 0 }, { name: 'tollgate_keyfeed_keys', type: 'counter', value: 9 }]),
      { allowed: 0, denied: 0, flushesOk: 0 }, 'defined but never set, and a counter of that name, do not count');
  });
  it('is all zero before the filter has pushed anything', () => {
    assert.deepEqual(filterCounts([]), { allowed: 0, denied: 0, flushesOk: 0 });
  });
});
