// Finding 8: the control service's database holds the report token, so the SQLite file, its -wal and -shm and the
// directory created for them must be owner-only on disk (checked on real files under a permissive umask); and request
// log lines must not carry query strings, where clients put credentials.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../control/store/sqlite/open.js';
import { pathOnly, requestLogView } from '../../control/request-log.js';
import { tempDir as newTempDir, sqliteOnly, testApp, type TestApp } from './helpers.js';

const dirs: string[] = [];
const tempDir = (): string => { const d = newTempDir(); dirs.push(d); return d; };
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const mode = (path: string): number => statSync(path).mode & 0o777;
const octal = (m: number): string => m.toString(8).padStart(4, '0');

describe('SQLite files are owner-only', sqliteOnly('file modes of the database files'), () => {
  let umask: number;
  before(() => { umask = process.umask(0o022); }); // the common default, under which files come out 0644
  after(() => { process.umask(umask); });

  it('creates the directory 0700 and the database, -wal and -shm 0600 (through the running service)', async () => {
    const root = tempDir();
    const dbPath = join(root, 'state', 'nested', 'tollgate.db');
    const t = await testApp({ dbPath });
    try {
      // A committed write so the WAL and its index exist while the service runs.
      assert.equal((await t.admin('POST', '/v1/apis', { name: 'orders', pathPrefix: '/orders' })).statusCode, 201);
      for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
        assert.ok(existsSync(f), `${f} exists`);
        assert.equal(octal(mode(f)), '0600', f);
      }
      assert.equal(octal(mode(join(root, 'state'))), '0700');
      assert.equal(octal(mode(join(root, 'state', 'nested'))), '0700');
    } finally {
      await t.close();
    }
  });

  it('tightens a database and WAL left world-readable by an older version', () => {
    const dir = tempDir();
    const dbPath = join(dir, 'old.db');
    openDatabase(dbPath).close();
    writeFileSync(`${dbPath}-wal`, '');
    chmodSync(dbPath, 0o644);
    chmodSync(`${dbPath}-wal`, 0o644);
    const db = openDatabase(dbPath);
    try {
      db.exec('CREATE TABLE t (x)');
      for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) assert.equal(octal(mode(f)), '0600', f);
    } finally {
      db.close();
    }
  });

  it('leaves an existing directory as it is (it may be shared) while the files in it are 0600', () => {
    const dir = join(tempDir(), 'shared');
    mkdirSync(dir, { mode: 0o755 });
    const db = openDatabase(join(dir, 'x.db'));
    db.close();
    assert.equal(octal(mode(dir)), '0755');
    assert.equal(octal(mode(join(dir, 'x.db'))), '0600');
  });
});

describe('request logs carry no query string', () => {
  let t: TestApp;
  before(async () => { t = await testApp(); });
  after(async () => t.close());

  it('logs the path of every request but never a query value or name', async () => {
    const secret = 'tgk_SECRETinQUERYstring0123456789abcdef';
    await t.admin('GET', `/v1/apis?limit=5&api_key=${secret}`);
    await t.app.inject({ method: 'GET', url: `/v1/usage?token=${secret}` }); // 401, still logged
    await t.admin('GET', `/v1/nothing?${secret}`); // 404; a bare query is a parameter name
    await t.admin('GET', `/v1/apis#${secret}`);
    const all = t.logs.join('');
    assert.equal(all.includes(secret), false, 'the secret never reaches the log');
    const urls = t.logs.map((l) => JSON.parse(l) as { msg?: string; req?: { url: string; method: string } })
      .filter((l) => l.msg === 'incoming request').map((l) => `${l.req!.method} ${l.req!.url}`);
    assert.deepEqual(urls, ['GET /v1/apis', 'GET /v1/usage', 'GET /v1/nothing', 'GET /v1/apis']);
  });

  it('cuts at ? or #, whichever comes first', () => {
    assert.equal(pathOnly('/a/b'), '/a/b');
    assert.equal(pathOnly('/a?x=1#y'), '/a');
    assert.equal(pathOnly('/a#y?x=1'), '/a');
    assert.equal(requestLogView({ method: 'GET', url: '/p?k=v', ip: '127.0.0.1', host: 'h', socket: { remotePort: 1 } }).url, '/p');
  });
});
