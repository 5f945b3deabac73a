import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureHome, writePids } from '../../mesh/home.js';
import { isAlive, looksLikeControl, MeshAlreadyRunningError, reapStaleControl } from '../../mesh/stale-processes.js';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-stale-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** A stand-in whose command line reads like `node … tollgate.mjs <role>` (the extra args land in process.argv). */
async function standIn(...args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 1000);', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  await once(child.stdout!, 'data');
  return child;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

function home(name: string): string {
  const h = join(dir, name);
  ensureHome(h);
  return h;
}

describe('stale control service from a killed mesh', { skip: process.platform === 'linux' ? false : 'needs /proc' }, () => {
  it('stops a left-over control service whose mesh is gone', async () => {
    const h = home('leftover');
    const control = await standIn('tollgate.mjs', 'control');
    writePids(h, { mesh: await deadPid(), control: control.pid!, controlRestarts: 0 });
    const logs: string[] = [];
    assert.equal(await reapStaleControl(h, (m) => logs.push(m)), control.pid);
    assert.equal(isAlive(control.pid!), false);
    assert.match(logs.join('\n'), /left over from an earlier run/);
  });

  it('leaves alone a process that reused the pid but is not a control service', async () => {
    const h = home('reused');
    const other = await standIn('something-else');
    writePids(h, { mesh: await deadPid(), control: other.pid!, controlRestarts: 0 });
    assert.equal(await reapStaleControl(h, () => {}), undefined);
    assert.equal(isAlive(other.pid!), true);
  });

  it('refuses to start while another mesh uses the same home', async () => {
    const h = home('busy');
    const mesh = await standIn('tollgate.mjs', 'start');
    writePids(h, { mesh: mesh.pid!, control: null, controlRestarts: 0 });
    await assert.rejects(reapStaleControl(h, () => {}), MeshAlreadyRunningError);
  });

  it('does nothing on a fresh home', async () => {
    assert.equal(await reapStaleControl(home('fresh'), () => {}), undefined);
  });
});

describe('looksLikeControl', () => {
  it('matches the control subcommand only', () => {
    assert.equal(looksLikeControl('/usr/bin/node /repo/bin/tollgate.mjs control'), true);
    assert.equal(looksLikeControl('/usr/bin/node /repo/bin/tollgate.mjs start'), false);
    assert.equal(looksLikeControl('/usr/bin/node /repo/bin/tollgate.mjs controller'), false);
    assert.equal(looksLikeControl(undefined), false);
  });
});
