// `tollgate start` as a process, on its unhappy paths: help, bad settings, a port already taken (everything that
// did start is taken down again: no orphaned control service).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { PidRecord } from '../../mesh/home.js';
import { eventually } from './mesh-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tollgate-start-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function start(args: string[], env: Record<string, string>, onSpawn?: (child: ChildProcess) => void): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'tollgate.mjs'), 'start', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    let output = '';
    child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

describe('tollgate start (process, unhappy paths)', () => {
  it('--help prints the usage with the environment variables', async () => {
    const { code, output } = await start(['--help'], {});
    assert.equal(code, 0);
    assert.match(output, /usage: tollgate start/);
    for (const name of ['TOLLGATE_HOME', 'TOLLGATE_CONTROL_PORT', 'TOLLGATE_PROXY_PORT', 'TOLLGATE_UPSTREAM_PORT', 'TOLLGATE_ADMIN_TOKEN']) assert.match(output, new RegExp(name));
  });

  it('refuses an unknown option with exit code 2 and the usage', async () => {
    const { code, output } = await start(['--bogus'], {});
    assert.equal(code, 2);
    assert.match(output, /--bogus/);
    assert.match(output, /usage: tollgate start/);
  });

  it('refuses a bad setting with exit code 2, naming the variable', async () => {
    const { code, output } = await start([], { TOLLGATE_HOME: join(dir, 'bad'), TOLLGATE_PROXY_PORT: 'ten-thousand' });
    assert.equal(code, 2);
    assert.match(output, /TOLLGATE_PROXY_PORT/);
    assert.equal(existsSync(join(dir, 'bad')), false, 'nothing created before the settings are valid');
  });

  it('fails cleanly when the proxy port is taken: exit 1, the reason, no orphaned control service', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const ports = { proxy: (blocker.address() as AddressInfo).port };
    try {
      const home = join(dir, 'busy');
      const { code, output } = await start([], {
        TOLLGATE_HOME: home,
        TOLLGATE_CONTROL_PORT: '0',
        TOLLGATE_PROXY_PORT: String(ports.proxy),
        TOLLGATE_UPSTREAM_PORT: '0',
        TOLLGATE_ADMIN_TOKEN: 'e2e-admin-token-0123456789',
      });
      assert.equal(code, 1, output);
      assert.match(output, /EADDRINUSE/);
      assert.equal(existsSync(join(home, 'pids.json')), false, 'pids.json removed on the way out');
      // The control child had started (it seeded the demo); it must be gone now.
      const logged = readFileSync(join(home, 'control.log'), 'utf8');
      const pid = Number(/"pid":(\d+)/.exec(logged)?.[1]);
      assert.ok(pid > 0, 'the control service ran');
      assert.throws(() => process.kill(pid, 0), /ESRCH/);
    } finally {
      blocker.close();
    }
  });

  it('Ctrl-C while starting stops what had started: exit 130, the control service gone', async () => {
    const home = join(dir, 'interrupted');
    let control: number | undefined;
    // Port 0 everywhere: the mesh picks free ports itself, so no other test can take them in between.
    const { code, output } = await start([], {
      TOLLGATE_HOME: home,
      TOLLGATE_CONTROL_PORT: '0',
      TOLLGATE_PROXY_PORT: '0',
      TOLLGATE_UPSTREAM_PORT: '0',
    }, (child) => {
      // As soon as the control service has been spawned (pids.json written), interrupt the start.
      void eventually('the control service to be spawned', 60_000, async () => {
        try {
          return (JSON.parse(readFileSync(join(home, 'pids.json'), 'utf8')) as PidRecord).control ?? undefined;
        } catch {
          return undefined;
        }
      }, 20).then((pid) => { control = pid; child.kill('SIGINT'); });
    });
    assert.equal(code, 130, output);
    assert.match(output, /start interrupted/);
    assert.ok(control);
    assert.throws(() => process.kill(control!, 0), /ESRCH/);
    assert.equal(existsSync(join(home, 'pids.json')), false);
  });
});
