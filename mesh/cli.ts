// `tollgate start`: the whole mesh on this machine (see docs/local-mesh.md). Runs until SIGINT/SIGTERM.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startMesh, type Mesh } from './mesh.js';
import { meshSettingsFromEnv, SettingsError } from './settings.js';
import { statusWriter } from './status-line.js';

const USAGE = `usage: tollgate start

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
  TOLLGATE_WORKERS            sidecar worker VMs (default 2)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const out = statusWriter(process.stdout, {});
  let settings;
  try {
    settings = meshSettingsFromEnv(process.env, process.cwd());
  } catch (err) {
    if (err instanceof SettingsError) {
      console.error(`tollgate start: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const root = fileURLToPath(new URL('..', import.meta.url));
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    // A closed terminal sends SIGHUP: shut down cleanly then too, or the control child would be orphaned.
    process.once('SIGHUP', () => resolve('SIGHUP'));
  });
  const starting = startMesh(settings, { root, out });
  let first: { mesh: Mesh } | { signal: string };
  try {
    first = await Promise.race([starting.then((mesh) => ({ mesh })), stopped.then((signal) => ({ signal }))]);
  } catch (err) {
    console.error(`tollgate start: ${(err as Error).message}`);
    return 1;
  }
  if ('signal' in first) {
    // Stopped while starting: let the start finish (or fail), then take down whatever came up.
    await starting.then((mesh) => mesh.close(), () => undefined);
    return 130;
  }
  const mesh = first.mesh;
  const signal = await stopped;
  out.log(`${signal}: shutting down…`);
  await mesh.close();
  out.log('stopped.');
  return 0;
}
