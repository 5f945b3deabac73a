// `tollgate import` end to end: the CLI as a subprocess (bin/tollgate.mjs) against a control service started here, on
// the run's store backend. Exit codes: 0 imported, 1 refused or unreachable, 2 usage error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { startControl, type RunningControl } from '../../control/server.js';
import { ADMIN, REPORT, testStoreUrl } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/openapi/github-subset.yaml', import.meta.url));

interface Run { code: number; stdout: string; stderr: string }
/** Asynchronous on purpose: the service answering it runs in this process. */
function tollgate(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin/tollgate.mjs'), 'import', ...args], {
      cwd: root, env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...env }, timeout: 60_000,
    }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }));
  });
}

describe('tollgate import (CLI)', () => {
  let c: RunningControl;
  let dispose: () => Promise<void>;
  let dir: string;
  before(async () => {
    const place = await testStoreUrl();
    dispose = place.dispose;
    c = await startControl({ dbPath: place.url, adminToken: ADMIN, reportToken: REPORT, logLevel: 'silent' });
    dir = mkdtempSync(join(tmpdir(), 'tollgate-import-'));
  });
  after(async () => {
    await c.close();
    await dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const admin = async <T>(path: string): Promise<T> => (await fetch(`${c.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json() as Promise<T>;

  it('imports the 80-operation document and prints what it created', async () => {
    const r = await tollgate([FIXTURE, '--url', c.url, '--token', ADMIN]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^created API api_[A-Za-z0-9]{10} "GitHub REST API \(subset\)" at \/github$/m);
    assert.match(r.stdout, /^ {2}\+ GET \/github\/repos\/\{owner\}\/\{repo\} {2}\(repos\/get\)$/m);
    assert.match(r.stdout, /^ {2}\+ PUT \/github\/repos\/\{owner\}\/\{repo\}\/pulls\/\{pull_number\}\/merge {2}\(pulls\/merge\) {2}cost 5$/m);
    assert.match(r.stdout, /^80 added, 0 changed, 0 removed, 0 moved, 0 unchanged; 80 operations$/m);
    const apis = await admin<{ items: { id: string; name: string; operationCount: number }[] }>('/v1/apis');
    assert.deepEqual(apis.items.map((a) => [a.name, a.operationCount]), [['GitHub REST API (subset)', 80]]);
  });

  it('--dry-run prints the diff of a changed document (env URL and token) and stores nothing', async () => {
    const doc = parse(readFileSync(FIXTURE, 'utf8')) as { paths: Record<string, Record<string, { 'x-tollgate'?: unknown }>> };
    delete doc.paths['/rate_limit'];
    doc.paths['/user']!.get!['x-tollgate'] = { cost: 3 };
    const changed = join(dir, 'changed.yml');
    writeFileSync(changed, stringify(doc));
    const before = await admin<{ items: unknown[] }>('/v1/apis');
    const r = await tollgate([changed, '--dry-run'], { TOLLGATE_URL: c.url, TOLLGATE_ADMIN_TOKEN: `${ADMIN},another-token` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^would be updated API/m);
    assert.match(r.stdout, /^ {2}~ users\/get-authenticated: cost 1 → 3$/m);
    assert.match(r.stdout, /^ {2}- GET \/github\/rate_limit {2}\(rate-limit\/get\)$/m);
    assert.match(r.stdout, /^0 added, 1 changed, 1 removed, 0 moved, 78 unchanged; 79 operations$/m);
    assert.match(r.stdout, /^dry run: nothing was stored$/m);
    assert.deepEqual(await admin('/v1/apis'), before);
  });

  it('a JSON document with --name and --path-prefix; --json prints the reply', async () => {
    const file = join(dir, 'pets.json');
    writeFileSync(file, JSON.stringify({ openapi: '3.0.3', info: { title: 'Pets', version: '1' }, paths: { '/pets': { get: { operationId: 'list', responses: { 200: { description: 'ok' } } } } } }));
    const r = await tollgate([file, '--name', 'pets-api', '--path-prefix', '/pets-v2', '--json', '--url', c.url, '--token', ADMIN]);
    assert.equal(r.code, 0, r.stderr);
    const reply = JSON.parse(r.stdout) as { api: { name: string; pathPrefix: string }; operations: { path: string }[] };
    assert.equal(reply.api.name, 'pets-api');
    assert.deepEqual(reply.operations.map((o) => o.path), ['/pets-v2/pets']);
  });

  it('a refused document exits 1 and prints each pointer with its message', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, stringify({
      openapi: '3.1.0', info: { title: 'Bad', version: '1' },
      paths: { '/a': { get: { 'x-tollgate': { limits: 'many', colour: 1 }, responses: { 200: { description: 'ok' } } } } },
    }));
    const r = await tollgate([file, '--url', c.url, '--token', ADMIN]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused \(HTTP 422\)/);
    assert.match(r.stderr, /^ {2}\/paths\/~1a\/get\/x-tollgate\/limits: limits must be an array/m);
    assert.match(r.stderr, /^ {2}\/paths\/~1a\/get\/x-tollgate\/colour: unknown x-tollgate field 'colour'/m);
    const unparsable = join(dir, 'broken.json');
    writeFileSync(unparsable, '{"openapi": ');
    const u = await tollgate([unparsable, '--url', c.url, '--token', ADMIN]);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /HTTP 400.*not JSON/);
    const missingApi = await tollgate([FIXTURE, '--api', 'api_0000000000', '--url', c.url, '--token', ADMIN]);
    assert.equal(missingApi.code, 1);
    assert.match(missingApi.stderr, /HTTP 404/);
    const wrongToken = await tollgate([FIXTURE, '--url', c.url, '--token', 'nope']);
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stderr, /HTTP 401/);
  });

  it('usage errors exit 2; an unreachable service exits 1', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [[], {}, /name one OpenAPI document/],
      [[FIXTURE, FIXTURE, '--token', ADMIN], {}, /name one OpenAPI document/],
      [[FIXTURE, '--frobnicate', '--token', ADMIN], {}, /frobnicate/],
      [[FIXTURE], {}, /no admin token/],
      [[join(dir, 'missing.yaml'), '--token', ADMIN], {}, /cannot read .*ENOENT/],
      [[FIXTURE, '--token', ADMIN, '--url', 'not a url'], {}, /not a URL/],
    ];
    for (const [args, env, message] of cases) {
      const r = await tollgate(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const down = await tollgate([FIXTURE, '--token', ADMIN, '--url', 'http://127.0.0.1:9']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the control service/);
    const help = await tollgate(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: tollgate import <file>/);
  });
});
