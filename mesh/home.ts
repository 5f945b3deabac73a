// The mesh's home directory (TOLLGATE_HOME): tokens, the demo's seed record, pids and logs. Tokens are local
// development secrets kept with owner-only permissions, like a kubeconfig; API keys are never written here (only
// the ids of what the demo seeded), because plaintext keys are shown once and never stored.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, fchmodSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MeshTokens {
  admin: string;
  report: string;
  /** True when the admin token was created by this start (so it is printed once). */
  adminGenerated: boolean;
}

export interface SeedRecord {
  apiId: string;
  planId: string;
  consumerId: string;
  keyId: string;
  seededAt: string;
}

export interface PidRecord {
  mesh: number;
  control: number | null;
  controlRestarts: number;
}

export const homePaths = (home: string) => ({
  tokens: join(home, 'tokens.json'),
  seed: join(home, 'seed.json'),
  pids: join(home, 'pids.json'),
  db: join(home, 'tollgate.db'),
  controlLog: join(home, 'control.log'),
  sidecarLog: join(home, 'sidecar.log'),
});

export function ensureHome(home: string): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
}

/**
 * Opens a log file for appending, owner-only: logs can carry what a request or a crash printed, and they sit beside
 * the tokens. A log left readable by an older version is tightened. Returns the descriptor (the caller closes it).
 */
export function openPrivateLog(path: string): number {
  const fd = openSync(path, 'a', 0o600);
  if ((fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  return fd;
}

/** Write via a temp file and rename, so a crash never leaves half a JSON file behind. */
export function writeJsonAtomic(path: string, value: unknown, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message}); fix or remove it`);
  }
}

export function generateToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** Tokens from the environment win; otherwise reuse the persisted ones; otherwise generate and persist. */
export function resolveTokens(home: string, fromEnv: { admin?: string; report?: string }): MeshTokens {
  const path = homePaths(home).tokens;
  const stored = readJson<{ admin?: string; report?: string }>(path) ?? {};
  const admin = fromEnv.admin ?? stored.admin;
  const report = fromEnv.report ?? stored.report;
  const tokens: MeshTokens = {
    admin: admin ?? generateToken('tga_'),
    report: report ?? generateToken('tgr_'),
    adminGenerated: admin === undefined,
  };
  // Persist only what was generated here; a token given in the environment is the operator's to keep.
  if (admin === undefined || report === undefined) {
    writeJsonAtomic(path, {
      ...stored,
      ...(admin === undefined ? { admin: tokens.admin } : {}),
      ...(report === undefined ? { report: tokens.report } : {}),
    });
  }
  return tokens;
}

export const readSeed = (home: string): SeedRecord | undefined => readJson<SeedRecord>(homePaths(home).seed);
export const writeSeed = (home: string, seed: SeedRecord): void => writeJsonAtomic(homePaths(home).seed, seed);
export const writePids = (home: string, pids: PidRecord): void => writeJsonAtomic(homePaths(home).pids, pids, 0o644);
