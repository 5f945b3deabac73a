// The admin CLI (docs/cli.md) as users run it: `node bin/tollgate.mjs …` as a child process against a control service
// listening on a real port. Config precedence (flags > environment > config file, and the file's mode check), tables
// and --output json, exit codes (0; 1 for 401/404/422/400 with the problem printed readably; 2 usage; 3 unreachable),
// `keys create` printing the key once and to stdout only, `usage` and `usage export`, and the completion scripts —
// bash's actually completing through COMP_WORDS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN, testApp, type TestApp } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/tollgate.mjs', import.meta.url));

interface Result { code: number; stdout: string; stderr: string }

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('tollgate admin CLI against a running control service', () => {
  let t: TestApp;
  let url: string;
  let home: string;
  /** A clean environment: no TOLLGATE_* from the caller, HOME and XDG_CONFIG_HOME in a temp dir. */
  let env: NodeJS.ProcessEnv;

  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Result> => new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...env, ...extra }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
  const ok = async (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Result> => {
    const r = await cli(args, extra);
    assert.equal(r.code, 0, `tollgate ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const auth = (): NodeJS.ProcessEnv => ({ TOLLGATE_URL: url, TOLLGATE_TOKEN: ADMIN });

  before(async () => {
    t = await testApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    home = join(t.dir, 'home');
    mkdirSync(join(home, '.config', 'tollgate'), { recursive: true });
    env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TOLLGATE_')));
    Object.assign(env, { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), NO_COLOR: '1' });
  });
  after(async () => t?.close());

  describe('where the URL and token come from', () => {
    const defaultConfig = (): string => join(home, '.config', 'tollgate', 'config.json');
    const writeConfig = (path: string, body: unknown, mode = 0o600): void => {
      writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
      chmodSync(path, mode);
    };

    it('the default config file (owner-only) supplies both', async () => {
      writeConfig(defaultConfig(), { url, token: ADMIN });
      const r = await ok(['consumers', 'list']);
      assert.match(r.stdout, /^ID\s+NAME\s+CREATED\n/);
    });

    it('the environment beats the file, and flags beat the environment', async () => {
      writeConfig(defaultConfig(), { url, token: ADMIN });
      const wrongEnv = await cli(['consumers', 'list'], { TOLLGATE_TOKEN: 'wrong-token' });
      assert.equal(wrongEnv.code, 1, 'TOLLGATE_TOKEN is used over the file\'s token');
      assert.match(wrongEnv.stderr, /^error: Unauthorized \(401\): invalid admin token\n$/);
      await ok(['consumers', 'list', '--token', ADMIN], { TOLLGATE_TOKEN: 'wrong-token' });
      // TOLLGATE_ADMIN_TOKEN (the service's own variable) works too; its first entry is used.
      await ok(['consumers', 'list'], { TOLLGATE_ADMIN_TOKEN: `${ADMIN},other-token` });
      const dead = `http://127.0.0.1:${await closedPort()}`;
      writeConfig(defaultConfig(), { url: dead, token: ADMIN });
      await ok(['consumers', 'list'], { TOLLGATE_URL: url });
      await ok(['consumers', 'list', '--url', url], { TOLLGATE_URL: dead });
    });

    it('--config names another file; a named file must exist and be valid', async () => {
      const other = join(home, 'other.json');
      writeConfig(other, { url, token: ADMIN });
      writeConfig(defaultConfig(), { url, token: 'wrong-token' });
      await ok(['consumers', 'list', '--config', other]);
      await ok(['consumers', 'list'], { TOLLGATE_CONFIG: other });
      const missing = await cli(['consumers', 'list', '--config', join(home, 'nope.json')]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /nope\.json: ENOENT/);
      writeConfig(other, '{"url": ');
      assert.match((await cli(['consumers', 'list', '--config', other])).stderr, /other\.json: not JSON/);
      writeConfig(other, { url, token: ADMIN, colour: 'blue' });
      assert.match((await cli(['consumers', 'list', '--config', other])).stderr, /unknown field "colour"/);
    });

    it('a config file holding a token that others can read is refused (exit 2), not used', async () => {
      writeConfig(defaultConfig(), { url, token: ADMIN }, 0o644);
      const r = await cli(['consumers', 'list']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /config\.json: holds an admin token but is readable by others \(mode 0644\); run chmod 600/);
      assert.equal(r.stdout, '');
      // A URL-only file may be shared.
      writeConfig(defaultConfig(), { url }, 0o644);
      await ok(['consumers', 'list'], { TOLLGATE_TOKEN: ADMIN });
    });

    it('no token anywhere: a usage error naming where to put one', async () => {
      writeConfig(defaultConfig(), { url }, 0o600);
      const r = await cli(['consumers', 'list']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no admin token: pass --token, set TOLLGATE_TOKEN/);
    });
  });

  describe('commands, output and exit codes', () => {
    let apiId: string;
    let planId: string;
    let consumerId: string;

    before(async () => {
      apiId = (await ok(['apis', 'create', '--name', 'orders', '--path-prefix', '/orders'], auth())).stdout.trim();
      planId = (await ok(['plans', 'create', '--name', 'gold', '--limit', '1000/day', '--limit', '10/second', '--api', apiId], auth())).stdout.trim();
      consumerId = (await ok(['consumers', 'create', '--name', 'acme'], auth())).stdout.trim();
    });

    it('create prints the new id on stdout; list prints a table; --output json the objects', async () => {
      assert.match(apiId, /^[A-Za-z0-9._:-]+$/);
      const table = (await ok(['apis', 'list'], auth())).stdout.split('\n');
      assert.match(table[0]!, /^ID\s+NAME\s+PATH PREFIX\s+HOSTS\s+OPERATIONS$/);
      assert.match(table[1]!, new RegExp(`^${apiId}\\s+orders\\s+/orders\\s+\\*\\s+0$`));
      const listed = JSON.parse((await ok(['apis', 'list', '-o', 'json'], auth())).stdout) as { id: string; name: string }[];
      assert.deepEqual(listed.map((a) => [a.id, a.name]), [[apiId, 'orders']]);
      const plan = JSON.parse((await ok(['plans', 'get', planId, '--output', 'json'], auth())).stdout) as { limits: { requests: number; per: string }[]; apiIds: string[] };
      assert.deepEqual(plan.limits.map((l) => `${l.requests}/${l.per}`), ['1000/day', '10/second']);
      assert.deepEqual(plan.apiIds, [apiId]);
      assert.match((await ok(['plans', 'list'], auth())).stdout, /gold\s+1000\/day, 10\/second/);
      assert.match((await ok(['consumers', 'get', consumerId], auth())).stdout, /^id:\s+\S+\nname:\s+acme\n/);
    });

    it('keys create: the plaintext key once, alone on stdout; nothing of it on stderr or in listings', async () => {
      const r = await ok(['keys', 'create', '--consumer', consumerId, '--plan', planId], auth());
      assert.match(r.stdout, /^tgk_[A-Za-z0-9_-]{43}\n$/, 'stdout is the key and a newline');
      const key = r.stdout.trim();
      assert.ok(!r.stderr.includes(key), 'the key is not on stderr');
      assert.match(r.stderr, /created key \S+ \(prefix \S+\) for consumer .* shown once/s);
      const list = await ok(['keys', 'list', '--consumer', consumerId], auth());
      assert.ok(!list.stdout.includes(key) && !list.stderr.includes(key), 'listings show prefixes only');
      assert.match(list.stdout, /^ID\s+PREFIX\s+PLAN\s+STATUS\s+CREATED\s+EXPIRES\n\S+\s+\S+\s+\S+\s+active\s/);
      const asJson = await ok(['keys', 'create', '--consumer', consumerId, '--plan', planId, '-o', 'json'], auth());
      const created = JSON.parse(asJson.stdout) as { key: string; id: string };
      assert.equal(asJson.stdout.split(created.key).length, 2, 'the key appears once in the JSON reply');
      assert.equal(asJson.stderr, '');
      // The key works: the service knows its digest (the REST view of the new key).
      const view = await t.admin('GET', `/v1/keys/${created.id}`);
      assert.equal(view.json<{ status: string }>().status, 'active');
    });

    it('keys rotate prints the new key once on stdout; keys revoke revokes', async () => {
      const first = (await ok(['keys', 'create', '--consumer', consumerId, '--plan', planId, '-o', 'json'], auth())).stdout;
      const id = (JSON.parse(first) as { id: string }).id;
      const rotated = await ok(['keys', 'rotate', id, '--grace-period', '60'], auth());
      assert.match(rotated.stdout, /^tgk_[A-Za-z0-9_-]{43}\n$/);
      assert.match(rotated.stderr, new RegExp(`rotated ${id} into key`));
      const revoked = await ok(['keys', 'revoke', id], auth());
      assert.equal(revoked.stdout, '');
      assert.match(revoked.stderr, new RegExp(`revoked key ${id}`));
      assert.equal((await t.admin('GET', `/v1/keys/${id}`)).json<{ status: string }>().status, 'revoked');
    });

    it('the service\'s problems: exit 1, printed as title, status, detail and the listed errors', async () => {
      const notFound = await cli(['apis', 'get', 'api_nope'], auth());
      assert.deepEqual([notFound.code, notFound.stdout, notFound.stderr], [1, '', 'error: Not Found (404): api \'api_nope\' does not exist\n']);
      const unprocessable = await cli(['plans', 'create', '--name', 'silver', '--api', 'api_nope'], auth());
      assert.equal(unprocessable.code, 1);
      assert.match(unprocessable.stderr, /^error: Unprocessable Content \(422\): apiIds: api 'api_nope' does not exist\n$/);
      const invalid = await cli(['apis', 'create', '--name', 'x', '--path-prefix', 'no-slash'], auth());
      assert.equal(invalid.code, 1);
      assert.equal(invalid.stderr, 'error: Bad Request (400)\n  - body/pathPrefix: must match pattern "^/"\n');
      const conflict = await cli(['apis', 'delete', apiId], auth());
      assert.equal(conflict.code, 1, 'a plan includes the API');
      assert.match(conflict.stderr, /^error: Conflict \(409\)/);
      const unauthorized = await cli(['apis', 'list', '--token', 'not-the-token'], auth());
      assert.deepEqual([unauthorized.code, unauthorized.stdout], [1, '']);
      assert.match(unauthorized.stderr, /Unauthorized \(401\)/);
    });

    it('usage errors exit 2; an unreachable service exits 3', async () => {
      for (const args of [['apis', 'frobnicate'], ['keys', 'create', '--consumer', consumerId], ['plans', 'create', '--name', 'p', '--limit', '5/fortnight'], ['apis'], ['apis', 'list', '--output', 'yaml']]) {
        const r = await cli(args, auth());
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^tollgate: /);
      }
      const dead = await cli(['apis', 'list'], { TOLLGATE_URL: `http://127.0.0.1:${await closedPort()}`, TOLLGATE_TOKEN: ADMIN });
      assert.equal(dead.code, 3);
      assert.match(dead.stderr, /^error: cannot reach the control service at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\n$/);
      assert.equal((await cli(['apis', 'list', '--url', 'ftp://example'], auth())).code, 2);
    });

    it('the admin token never leaves for another origin, and is printed nowhere', async () => {
      // A "control service" that redirects every call to another origin (another port), which records what it got.
      const seen: (string | undefined)[] = [];
      const other = createHttpServer((req, res) => {
        seen.push(req.headers.authorization);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ items: [], nextCursor: null }));
      });
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      const redirecting = createHttpServer((req, res) => {
        res.statusCode = 307;
        res.setHeader('location', `http://127.0.0.1:${(other.address() as AddressInfo).port}${req.url}`);
        res.end();
      });
      await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
      try {
        const r = await cli(['apis', 'list', '--output', 'json'], { TOLLGATE_URL: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`, TOLLGATE_TOKEN: ADMIN });
        assert.ok(seen.length > 0, `the redirect was followed (${r.stderr})`);
        for (const auth of seen) assert.equal(auth, undefined, 'no authorization header after a cross-origin redirect');
        assert.ok(!r.stdout.includes(ADMIN) && !r.stderr.includes(ADMIN), 'the token is not printed');
      } finally {
        await new Promise((resolve) => redirecting.close(resolve));
        await new Promise((resolve) => other.close(resolve));
      }
      // Nor in any outcome against the real service: a listing, a problem, a usage error.
      for (const args of [['apis', 'list'], ['apis', 'get', 'api_missing'], ['apis', 'frobnicate']]) {
        const r = await cli(args, auth());
        assert.ok(!r.stdout.includes(ADMIN) && !r.stderr.includes(ADMIN), `${args.join(' ')} does not print the token`);
      }
    });

    it('usage: a table with a total row, or JSON; usage export streams CSV (or NDJSON) to stdout', async () => {
      const table = (await ok(['usage', '--granularity', 'day'], auth())).stdout.split('\n');
      assert.match(table[0]!, /^START\s+ALLOWED\s+UNITS\s+REJECTED QUOTA/);
      assert.match(table.at(-2)!, /^total\s+0\s+0/);
      assert.deepEqual(Object.keys(JSON.parse((await ok(['usage', '-o', 'json'], auth())).stdout) as object), ['totals', 'upstreamStatus', 'series']);
      const range = ['--from', '2026-01-01T00:00:00Z', '--to', '2026-02-01T00:00:00Z', '--granularity', 'month'];
      const csv = await ok(['usage', 'export', ...range, '--group-by', 'consumer,plan'], auth());
      assert.equal(csv.stdout, 'period_start,period_end,consumer_id,plan_id,requests,units,rejected_quota,rejected_auth,rejected_forbidden,would_reject,status_1xx,status_2xx,status_3xx,status_4xx,status_5xx,complete,cursor\r\n');
      const nd = await ok(['usage', 'export', ...range, '-o', 'json'], auth());
      assert.deepEqual(JSON.parse(nd.stdout), { end: true, rows: 0, next: null });
      const bad = await cli(['usage', 'export', '--from', '2026-01-01T00:00:01Z', '--to', '2026-02-01T00:00:00Z'], auth());
      assert.deepEqual([bad.code, bad.stderr], [1, 'error: Bad Request (400): from: not at the start of a UTC day\n']);
    });
  });

  describe('shell completion', () => {
    it('the bash and zsh scripts name the program and ask it for completions', async () => {
      const bash = (await ok(['completion', 'bash'])).stdout;
      assert.match(bash, /complete -o bashdefault -o default -F _tollgate_yargs_completions tollgate/);
      assert.match(bash, /tollgate --get-yargs-completions/);
      const zsh = (await ok(['completion', 'zsh'])).stdout;
      assert.match(zsh, /^#compdef tollgate/);
      assert.match(zsh, /compdef _tollgate_yargs_completions tollgate/);
      assert.equal((await cli(['completion', 'fish'])).code, 2);
    });

    it('the candidates: every command first, then subcommands and their flags', async () => {
      const words = async (...w: string[]): Promise<string[]> => (await ok(['--get-yargs-completions', 'tollgate', ...w])).stdout.split('\n').filter((l) => l !== '');
      const top = await words('');
      for (const c of ['apis', 'plans', 'consumers', 'keys', 'usage', 'completion', 'start', 'control', 'import', 'replay']) assert.ok(top.includes(c), `${c} in ${top.join(' ')}`);
      assert.equal(new Set(top).size, top.length, 'each once');
      assert.deepEqual(await words('keys', ''), ['create', 'list', 'revoke', 'rotate']);
      assert.deepEqual((await words('keys', 'create', '--')).filter((f) => !['--url', '--token', '--config', '--output', '--help'].includes(f)), ['--consumer', '--plan', '--expires-at']);
      assert.ok((await words('usage', '')).includes('export'));
    });

    it('bash completes through the generated script (COMP_WORDS/COMP_CWORD)', async () => {
      const script = (await ok(['completion', 'bash'])).stdout;
      const complete = (line: string[]): Promise<Result> => new Promise((resolve) => {
        const program = [
          script,
          // The script runs `tollgate`: here, this clone's bin.
          `tollgate() { ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"; }`,
          `COMP_WORDS=(${line.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${line.length - 1}`,
          '_tollgate_yargs_completions; printf "%s\\n" "${COMPREPLY[@]}"',
        ].join('\n');
        execFile('bash', ['-c', program], { env, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, stdout, stderr }));
      });
      const keys = await complete(['tollgate', 'keys', 'r']);
      assert.equal(keys.code, 0, keys.stderr);
      assert.deepEqual(keys.stdout.trim().split('\n'), ['revoke', 'rotate']);
      assert.deepEqual((await complete(['tollgate', 'con'])).stdout.trim().split('\n').sort(), ['consumers', 'control']);
      assert.deepEqual((await complete(['tollgate', 'usage', 'ex'])).stdout.trim(), 'export');
    });
  });
});
