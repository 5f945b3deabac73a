// A mesh killed with SIGKILL (or a crashed terminal) leaves its control service running in its own process group,
// holding the port and the SQLite file. The next start finds it through pids.json and stops it first — but only if
// the pid still belongs to a tollgate control process (pids get reused), and never while that mesh is still alive.
import { readFileSync } from 'node:fs';
import { homePaths, readJson, type PidRecord } from './home.js';

export class MeshAlreadyRunningError extends Error {
  override name = 'MeshAlreadyRunningError';
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command line (Linux /proc); undefined where that is not available. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

export const looksLikeControl = (cmdline: string | undefined): boolean => cmdline !== undefined && /tollgate\.mjs\s+control\b/.test(cmdline);

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

/** Returns the pid it stopped, or undefined when there was nothing to do. */
export async function reapStaleControl(home: string, log: (message: string) => void): Promise<number | undefined> {
  const pids = readJson<PidRecord>(homePaths(home).pids);
  if (pids === undefined) return undefined;
  if (pids.mesh !== process.pid && isAlive(pids.mesh) && commandLine(pids.mesh)?.includes('tollgate.mjs') !== false) {
    throw new MeshAlreadyRunningError(`another 'tollgate start' (pid ${pids.mesh}) is using ${home}; stop it first or set TOLLGATE_HOME`);
  }
  const pid = pids.control;
  if (pid === null || !isAlive(pid) || !looksLikeControl(commandLine(pid))) return undefined;
  log(`stopping a control service left over from an earlier run (pid ${pid})`);
  process.kill(pid, 'SIGTERM');
  if (!(await waitForExit(pid, 10_000))) {
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid, 2_000);
  }
  return pid;
}
