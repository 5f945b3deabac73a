// A PostgreSQL URL's password never reaches a log line, an error, or `--help`: TOLLGATE_DB / TOLLGATE_DB_FILE are
// printed only through redactDbUrl, and errors raised while opening the store have the password masked.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { buildApp } from '../../control/app.js';
import { run as controlRun } from '../../control/cli.js';
import { defaultSettings, loadSettings, SettingsError } from '../../control/settings.js';
import { isPostgresUrl, redactDbUrl, scrubDbSecrets } from '../../control/store/db-url.js';
import { ADMIN, REPORT, batchId, currentMinute, seed, tempDir, testApp, type TestApp } from './helpers.js';
import { createTestDatabase, pgUnavailable, TEST_PG_URL, withDatabase, type TestDatabase } from './postgres-fixture.js';

const unavailable = await pgUnavailable();
const skip = unavailable === undefined ? {} : { skip: unavailable };

/** The password as written in the URL (percent-encoded) and as the server would see it. */
const SECRET = 'S3cr3t@pw/x';
const ENCODED = encodeURIComponent(SECRET);
const MARKER = 'S3cr3t';

/** `url` with user postgres and our password (the test server trusts local connections, so any password works). */
function withPassword(url: string): string {
  const u = new URL(url);
  u.username = 'postgres';
  u.password = ENCODED;
  return u.toString();
}

function assertNoSecret(text: string, where: string): void {
  for (const s of [SECRET, ENCODED, MARKER]) assert.equal(text.includes(s), false, `${where} shows the password: ${text.slice(0, 300)}`);
}

/** Everything `fn` prints to stdout and stderr through console. */
async function captureConsole(fn: () => Promise<unknown>): Promise<{ out: string; result: unknown }> {
  const lines: string[] = [];
  const saved = { log: console.log, error: console.error, warn: console.warn };
  console.log = console.error = console.warn = (...args: unknown[]) => { lines.push(args.map(String).join(' ')); };
  try {
    const result = await fn().catch((err: unknown) => err);
    return { out: lines.join('\n'), result };
  } finally {
    Object.assign(console, saved);
  }
}

describe('redactDbUrl', () => {
  it('masks the userinfo password and password query parameters, and nothing else', () => {
    const cases: [string, string][] = [
      [`postgres://app:${ENCODED}@db.internal:5432/tollgate`, 'postgres://app:***@db.internal:5432/tollgate'],
      ['postgresql://app:p@ss/w0rd@db:5432/t?sslmode=require', 'postgresql://app:***@db:5432/t?sslmode=require'],
      ['postgres://app@db/t?password=hunter2&sslpassword=x&application_name=a', 'postgres://app@db/t?password=***&sslpassword=***&application_name=a'],
      ['postgres://db/t', 'postgres://db/t'],
      ['postgres://:only-a-password@db/t', 'postgres://:***@db/t'],
      ['/var/lib/tollgate/tollgate.db', '/var/lib/tollgate/tollgate.db'],
    ];
    for (const [url, shown] of cases) assert.equal(redactDbUrl(url), shown, url);
    assert.equal(isPostgresUrl('POSTGRESQL://x/y'), true);
    assert.equal(isPostgresUrl('./postgres.db'), false);
  });

  it('masks every spelling of the password inside a message', () => {
    const url = `postgres://app:${ENCODED}@db/t`;
    assertNoSecret(scrubDbSecrets(`failed with ${SECRET} and ${ENCODED}`, url), 'scrubbed message');
  });
});

describe('database settings', () => {
  let dir: string;
  before(() => { dir = tempDir(); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps a PostgreSQL URL as given (not path-resolved) and a SQLite path absolute', () => {
    const url = `postgres://app:${ENCODED}@db:5432/tollgate`;
    assert.equal(loadSettings({ TOLLGATE_DB: url }, {}, '/srv').dbPath, url);
    assert.equal(loadSettings({ TOLLGATE_DB: 'state/t.db' }, {}, '/srv').dbPath.startsWith('/'), true);
  });

  it('reads the URL from TOLLGATE_DB_FILE (a mounted Secret), trailing newline and all', () => {
    const url = `postgresql://app:${ENCODED}@db:5432/tollgate?sslmode=require`;
    const file = join(dir, 'db-url');
    writeFileSync(file, `${url}\n`, { mode: 0o600 });
    const s = loadSettings({ TOLLGATE_DB_FILE: file });
    assert.equal(s.dbPath, url);
    assert.equal(s.dbFile, file);
    assert.equal(loadSettings({ TOLLGATE_DB_FILE: file }, { db: '/tmp/x.db' }).dbPath, '/tmp/x.db', 'a flag wins over the environment');
  });

  it('refuses bad values without printing the password', () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    const badUrl = join(dir, 'bad-url');
    writeFileSync(badUrl, `postgres://app:${ENCODED}@[db:5432/x`);
    const cases: [Record<string, string>, Record<string, string>, RegExp][] = [
      [{ TOLLGATE_DB: `postgres://app:${ENCODED}@[db:5432/x` }, {}, /TOLLGATE_DB: not a valid PostgreSQL URL: postgres:\/\/app:\*\*\*@/],
      [{ TOLLGATE_DB_FILE: badUrl }, {}, /TOLLGATE_DB_FILE .*not a valid PostgreSQL URL/],
      [{ TOLLGATE_DB: '/a.db', TOLLGATE_DB_FILE: badUrl }, {}, /at most one/],
      [{}, { db: '/a.db', 'db-file': badUrl }, /at most one/],
      [{ TOLLGATE_DB_FILE: empty }, {}, /is empty/],
      [{ TOLLGATE_DB_FILE: join(dir, 'missing') }, {}, /cannot read .*ENOENT/],
      [{ TOLLGATE_USAGE_RETENTION_DAYS: '3' }, {}, /TOLLGATE_USAGE_RETENTION_DAYS/],
    ];
    for (const [env, flags, message] of cases) {
      assert.throws(() => loadSettings(env, flags), (err: Error) => {
        assertNoSecret(err.message, 'the settings error');
        return err instanceof SettingsError && message.test(err.message);
      }, JSON.stringify(env));
    }
  });

  it('never shows the URL in --help or in the usage printed for a bad flag', async () => {
    const saved = process.env.TOLLGATE_DB;
    process.env.TOLLGATE_DB = `postgres://app:${ENCODED}@db:5432/tollgate`;
    try {
      const help = await captureConsole(() => controlRun(['--help']));
      assert.equal(help.result, 0);
      assert.match(help.out, /TOLLGATE_DB_FILE/);
      assertNoSecret(help.out, '--help');
      const bad = await captureConsole(() => controlRun(['--bogus']));
      assert.equal(bad.result, 2);
      assertNoSecret(bad.out, 'the usage text');
    } finally {
      if (saved === undefined) delete process.env.TOLLGATE_DB;
      else process.env.TOLLGATE_DB = saved;
    }
  });
});

describe('a service on PostgreSQL with a password in its URL', skip, () => {
  let db: TestDatabase;
  let t: TestApp;
  before(async () => {
    db = await createTestDatabase();
    t = await testApp({ dbPath: withPassword(db.url) });
  });
  after(async () => {
    await t.close();
    await db.drop();
  });

  it('logs no trace of the password while it serves, fails and reports', async () => {
    const s = await seed(t);
    assert.equal((await t.admin('GET', '/v1/apis/api_missing000')).statusCode, 404);
    assert.equal((await t.admin('POST', '/v1/apis', { name: 'orders', pathPrefix: '/o' })).statusCode, 409);
    const report = { version: 1, batchId: batchId(), reporter: '0123456789abcdef', dropped: 0, entries: [{ minute: currentMinute(), keyId: s.keyId, apiId: s.apiId, outcome: 'allowed', count: 1 }] };
    assert.equal((await t.report('POST', '/v1/usage/reports', report)).statusCode, 200);
    assert.equal((await t.admin('GET', '/v1/distribution')).statusCode, 200);
    const logs = t.logs.join('');
    assert.ok(logs.length > 0);
    assertNoSecret(logs, 'the service log');
    // What console.log or a careless log line would print of the store, its pool and their connection settings.
    assertNoSecret(inspect(t.app.store, { depth: 8 }), 'the store object');
  });
});

describe('opening a PostgreSQL store that fails', skip, () => {
  const settings = (dbPath: string) => ({ ...defaultSettings(tempDir()), dbPath, adminToken: ADMIN, reportToken: REPORT, logLevel: 'silent' });

  it('names the URL redacted and never the password: server unreachable', async () => {
    const err = await buildApp(settings(`postgres://postgres:${ENCODED}@127.0.0.1:1/tollgate`)).then(() => undefined, (e: unknown) => e as Error);
    assert.ok(err instanceof Error);
    assert.match(err.message, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/tollgate/);
    assertNoSecret(`${err.message}\n${err.stack ?? ''}`, 'the error');
  });

  it('names the URL redacted and never the password: database missing', async () => {
    const url = withPassword(withDatabase(TEST_PG_URL, 'tollgate_test_does_not_exist'));
    const err = await buildApp(settings(url)).then(() => undefined, (e: unknown) => e as Error);
    assert.ok(err instanceof Error);
    assert.match(err.message, /does not exist/);
    assertNoSecret(`${err.message}\n${err.stack ?? ''}\n${JSON.stringify(err)}`, 'the error');
  });

  it('tollgate control with the URL in TOLLGATE_DB_FILE prints and throws nothing of the password', async () => {
    const dir = tempDir();
    const file = join(dir, 'url');
    writeFileSync(file, withPassword(withDatabase(TEST_PG_URL, 'tollgate_test_does_not_exist')));
    const saved = { ...process.env };
    Object.assign(process.env, { TOLLGATE_DB_FILE: file, TOLLGATE_CONTROL_PORT: '0', TOLLGATE_CONTROL_HOST: '127.0.0.1', TOLLGATE_ADMIN_TOKEN: ADMIN, TOLLGATE_LOG_LEVEL: 'silent' });
    delete process.env.TOLLGATE_DB;
    try {
      const { out, result } = await captureConsole(() => controlRun([]));
      assert.ok(result instanceof Error, 'start-up fails');
      assertNoSecret(`${out}\n${result.message}\n${result.stack ?? ''}`, 'tollgate control');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
