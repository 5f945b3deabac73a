// Keeps one child process running: restarts it when it exits without being asked to, with a back-off that grows
// on crash loops and resets once the child has stayed up for a while. Stopping sends SIGTERM (the child shuts down
// gracefully) and SIGKILL only if it does not exit in time.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export interface SupervisorOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where the child's stdout/stderr go; default inherit. */
  stdio?: StdioOptions;
  /**
   * Own process group: a terminal's Ctrl-C (SIGINT to the whole foreground group) then reaches only the parent,
   * which stops the child in its own order instead of the child dying first and being "restarted" mid-shutdown.
   */
  ownProcessGroup?: boolean;
  /** Called with each new child (e.g. to record its pid or pipe its output). */
  onSpawn?: (child: ChildProcess, restarts: number) => void;
  /** Called when a child exits; `restarting` tells whether another one will be started. */
  onExit?: (info: { code: number | null; signal: NodeJS.Signals | null; restarting: boolean; delayMs: number }) => void;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** A child that lived this long resets the back-off. */
  stableAfterMs?: number;
  stopTimeoutMs?: number;
}

export interface Supervisor {
  readonly pid: number | undefined;
  readonly restarts: number;
  stop(): Promise<void>;
}

/** Delay before restart number `attempt` (0-based) since the last stable run: doubling, capped. */
export function restartDelay(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
}

export function supervise(opts: SupervisorOptions): Supervisor {
  const minDelay = opts.minDelayMs ?? 250;
  const maxDelay = opts.maxDelayMs ?? 5000;
  const stableAfter = opts.stableAfterMs ?? 10_000;
  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = () => {
    timer = undefined;
    const startedAt = Date.now();
    const current = spawn(opts.command, opts.args, { env: opts.env, cwd: opts.cwd, stdio: opts.stdio ?? 'inherit', detached: opts.ownProcessGroup ?? false });
    child = current;
    let settle: () => void = () => {};
    exited = new Promise<void>((resolve) => { settle = resolve; });
    opts.onSpawn?.(current, restarts);
    let done = false;
    const onGone = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      child = undefined;
      if (Date.now() - startedAt >= stableAfter) attempt = 0;
      const restarting = !stopping;
      const delayMs = restarting ? restartDelay(attempt, minDelay, maxDelay) : 0;
      opts.onExit?.({ code, signal, restarting, delayMs });
      settle();
      if (restarting) {
        attempt++;
        restarts++;
        timer = setTimeout(start, delayMs);
      }
    };
    current.once('exit', onGone);
    // A spawn failure (e.g. ENOENT) emits 'error' without 'exit'.
    current.once('error', () => onGone(null, null));
  };

  start();
  return {
    get pid() { return child?.pid; },
    get restarts() { return restarts; },
    async stop() {
      stopping = true;
      if (timer !== undefined) clearTimeout(timer);
      const current = child;
      if (current === undefined) return;
      const kill = setTimeout(() => current.kill('SIGKILL'), opts.stopTimeoutMs ?? 10_000);
      current.kill('SIGTERM');
      await exited;
      clearTimeout(kill);
    },
  };
}
