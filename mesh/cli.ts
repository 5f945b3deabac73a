// `tollgate start`: the whole mesh on this machine (see docs/local-mesh.md). Runs until SIGINT/SIGTERM.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startMesh, StartInterruptedError, type Mesh } from './mesh.js';
import { MAX_SIDECARS, meshSettingsFromEnv, SettingsError, type MeshSettings } from './settings.js';
import { statusWriter } from './status-line.js';

const USAGE = `usage: tollgate start [--sidecars N]

Runs the local mesh on 127.0.0.1: the control service (child process, restarted if it dies), the sidecar (Envoy-like
host + the filter, configured from the control service like ECDS) and a demo upstream that echoes requests.

environment:
  TOLLGATE_HOME               state directory: SQLite store, tokens, logs, pids (default ./.tollgate)
  TOLLGATE_CONTROL_PORT       control service port (default 7070)
  TOLLGATE_PROXY_PORT         sidecar port (default 10000)
  TOLLGATE_UPSTREAM_PORT      demo upstream port (default 7080)
  TOLLGATE_ADMIN_TOKEN        admin token (default: generated on first start, printed, kept in TOLLGATE_HOME)
  TOLLGATE_REPORT_TOKEN       token the sidecar uses (default: generated, kept in TOLLGATE_HOME)
  TOLLGATE_USAGE_INTERVAL_MS  how often the filter flushes usage (default 2000)
  TOLLGATE_WORKERS            sidecar worker VMs (default 2)
  TOLLGATE_SIDECARS           sidecars, each with its own node id, on TOLLGATE_PROXY_PORT and the ports after it
                              (default 1, at most ${MAX_SIDECARS}; --sidecars N wins)

rollouts (docs/local-mesh.md): while TOLLGATE_HOME/sidecar-<n>.hold exists, sidecar n keeps its configuration
(a held-back proxy); creating TOLLGATE_HOME/sidecar-<n>.stop stops sidecar n (it goes stale in GET /v1/fleet).`;

export async function run(argv: string[]): Promise<number> {
  let help: boolean | undefined;
  let sidecars: string | undefined;
  try {
    ({ help, sidecars } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, sidecars: { type: 'string' } }, strict: true }).values);
  } catch (err) {
    console.error(`tollgate start: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (help) {
    console.log(USAGE);
    return 0;
  }
  let settings: MeshSettings;
  try {
    settings = meshSettingsFromEnv(sidecars === undefined ? process.env : { ...process.env, TOLLGATE_SIDECARS: sidecars }, process.cwd());
  } catch (err) {
    if (err instanceof SettingsError) {
      console.error(`tollgate start: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const out = statusWriter(process.stdout, {});
  const root = fileURLToPath(new URL('..', import.meta.url));
  const interrupt = new AbortController();
  const stopped = new Promise<string>((resolve) => {
    let received: string | undefined;
    const onSignal = (signal: string) => {
      if (received === undefined) {
        received = signal;
        interrupt.abort();
        resolve(signal);
        return;
      }
      // A second Ctrl-C while shutting down: leave now. process.exit still runs the 'exit' hooks, which signal the
      // control service, so nothing is left behind.
      out.log(`${signal} again: exiting without waiting`);
      process.exit(130);
    };
    // A closed terminal sends SIGHUP: shut down cleanly then too.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => onSignal(signal));
  });
  let mesh: Mesh;
  try {
    mesh = await startMesh(settings, { root, out, signal: interrupt.signal });
  } catch (err) {
    if (err instanceof StartInterruptedError) {
      out.log('start interrupted; everything that had started is stopped.');
      return 130;
    }
    console.error(`tollgate start: ${(err as Error).message}`);
    return 1;
  }
  const signal = await stopped;
  out.log(`${signal}: shutting down…`);
  await mesh.close();
  out.log('stopped.');
  return 0;
}
