// Everything `tollgate start` can be told, read from the environment in one place and validated up front, so a
// typo in a port fails at start-up with the variable's name instead of as a confusing bind error later.
import { resolve } from 'node:path';

export interface MeshSettings {
  /** TOLLGATE_DB for the control service: a PostgreSQL URL, or unset for the SQLite file in the home. */
  db?: string;
  /** Directory for the SQLite store, tokens, logs and pids (TOLLGATE_HOME, default ./.tollgate). */
  home: string;
  controlPort: number;
  proxyPort: number;
  upstreamPort: number;
  /** Loopback only: the local mesh is a development tool and must not be reachable from the network. */
  address: string;
  /** Admin token from the environment; undefined → generated (or reused) under `home`. */
  adminToken?: string;
  reportToken?: string;
  /** How often the filter flushes usage to the control service. */
  usageIntervalMs: number;
  /** Worker VMs in the sidecar (Envoy --concurrency). */
  workers: number;
  /** Sidecars (each its own host, listener and node id) in front of the one demo upstream (TOLLGATE_SIDECARS / --sidecars). */
  sidecars: number;
}

/** More sidecars than this is not a local demo any more (each is a host with its own VMs). */
export const MAX_SIDECARS = 8;

export class SettingsError extends Error {
  override name = 'SettingsError';
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  // 0 is allowed: the OS picks a free port (the tests use it for the upstream and proxy).
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new SettingsError(`${name} must be a port number 0..65535, got '${raw}'`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new SettingsError(`${name} must be an integer ${min}..${max}, got '${raw}'`);
  return value;
}

function token(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < 16 || /\s/.test(raw)) throw new SettingsError(`${name} must be at least 16 characters without whitespace`);
  return raw;
}

export function meshSettingsFromEnv(env: NodeJS.ProcessEnv, cwd: string): MeshSettings {
  return {
    home: resolve(cwd, env.TOLLGATE_HOME || '.tollgate'),
    ...(env.TOLLGATE_DB ? { db: env.TOLLGATE_DB } : {}),
    controlPort: port(env, 'TOLLGATE_CONTROL_PORT', 7070),
    proxyPort: port(env, 'TOLLGATE_PROXY_PORT', 10000),
    upstreamPort: port(env, 'TOLLGATE_UPSTREAM_PORT', 7080),
    address: '127.0.0.1',
    adminToken: token(env, 'TOLLGATE_ADMIN_TOKEN'),
    reportToken: token(env, 'TOLLGATE_REPORT_TOKEN'),
    usageIntervalMs: integer(env, 'TOLLGATE_USAGE_INTERVAL_MS', 2000, 100, 3_600_000),
    workers: integer(env, 'TOLLGATE_WORKERS', 2, 1, 64),
    sidecars: integer(env, 'TOLLGATE_SIDECARS', 1, 1, MAX_SIDECARS),
  };
}
