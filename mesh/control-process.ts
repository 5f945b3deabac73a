// The control service as the mesh runs it: `node bin/tollgate.mjs control` in its own process (so it can be killed
// and restarted independently of the sidecar), supervised, its output appended to a log file, its pid recorded.
// The environment is the contract with the control service (docs/control.md): local distribution of the very
// WasmPlugin production would get, pinned to the filter's bytes, and usage sent to the sidecar's cluster name.
import { closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { homePaths, openPrivateLog, writePids } from './home.js';
import { supervise, type Supervisor } from './supervisor.js';

export interface ControlProcessOptions {
  root: string;
  home: string;
  address: string;
  port: number;
  adminToken: string;
  reportToken: string;
  wasmPath: string;
  wasmSha256: string;
  /** Envoy cluster name the sidecar knows the control service by (compiled into usage.cluster). */
  usageCluster: string;
  usageIntervalMs: number;
  /** TOLLGATE_DB: a PostgreSQL URL; default the SQLite file in the home. */
  db?: string;
  log: (message: string) => void;
}

export interface ControlProcess {
  url: string;
  readonly pid: number | undefined;
  readonly restarts: number;
  stop(): Promise<void>;
}

/** The child's environment: the caller's, with the mesh's settings on top (they must win over stray variables). */
export function controlEnv(base: NodeJS.ProcessEnv, o: Omit<ControlProcessOptions, 'root' | 'log'>): NodeJS.ProcessEnv {
  return {
    ...base,
    TOLLGATE_CONTROL_HOST: o.address,
    TOLLGATE_CONTROL_PORT: String(o.port),
    TOLLGATE_DB: o.db ?? homePaths(o.home).db,
    TOLLGATE_ADMIN_TOKEN: o.adminToken,
    TOLLGATE_REPORT_TOKEN: o.reportToken,
    TOLLGATE_DISTRIBUTION: 'local',
    TOLLGATE_FILTER_URL: pathToFileURL(o.wasmPath).href,
    TOLLGATE_FILTER_SHA256: o.wasmSha256,
    TOLLGATE_USAGE_CLUSTER: o.usageCluster,
    TOLLGATE_USAGE_AUTHORITY: o.usageCluster,
    TOLLGATE_USAGE_INTERVAL_MS: String(o.usageIntervalMs),
  };
}

export function startControlProcess(o: ControlProcessOptions): ControlProcess {
  const paths = homePaths(o.home);
  const logFd = openPrivateLog(paths.controlLog);
  const supervisor: Supervisor = supervise({
    name: 'control',
    command: process.execPath,
    args: ['--import', pathToFileURL(join(o.root, 'mesh', 'parent-watch.mjs')).href, join(o.root, 'bin', 'tollgate.mjs'), 'control'],
    cwd: o.root,
    // stdin: a pipe nobody writes to; parent-watch.mjs stops the service when it ends (the mesh is gone).
    stdio: ['pipe', logFd, logFd],
    ownProcessGroup: true,
    env: controlEnv(process.env, o),
    onSpawn: (child, restarts) => writePids(o.home, { mesh: process.pid, control: child.pid ?? null, controlRestarts: restarts }),
    onExit: ({ code, signal, restarting, delayMs }) => {
      if (restarting) o.log(`control service exited (${signal ?? `code ${code}`}); restarting in ${delayMs} ms — the sidecar keeps enforcing meanwhile (log: ${paths.controlLog})`);
    },
  });
  // Its own process group keeps a terminal's Ctrl-C from reaching it, so it must not outlive a mesh that dies
  // another way: 'exit' handlers run synchronously on errors and process.exit; a SIGKILLed mesh is noticed by the
  // child itself (parent-watch.mjs), and anything left is reaped by the next start (stale-processes.ts).
  const killOnExit = () => {
    const pid = supervisor.pid;
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', killOnExit);
  return {
    url: `http://${o.address}:${o.port}`,
    get pid() { return supervisor.pid; },
    get restarts() { return supervisor.restarts; },
    async stop() {
      try {
        await supervisor.stop();
      } finally {
        process.off('exit', killOnExit);
        closeSync(logFd);
        rmSync(paths.pids, { force: true });
      }
    },
  };
}
