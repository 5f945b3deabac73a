// Where the admin CLI finds the control service and its admin token (docs/cli.md): flags, then the environment, then
// a config file; the first that names a value wins. A config file holding a token must be owner-only, as the
// service's own secret files are: a token readable by others is refused, not used.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Something wrong with how the CLI was called or configured (exit 2). */
export class UsageError extends Error {}

export interface Connection { url: string; token: string }
export interface ConnectionFlags { url?: string; token?: string; config?: string }
export interface ConfigFile { url?: string; token?: string }

/** `--config`, else TOLLGATE_CONFIG, else $XDG_CONFIG_HOME (or ~/.config)/tollgate/config.json. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv): { path: string; explicit: boolean } {
  const named = flag ?? env.TOLLGATE_CONFIG;
  if (named !== undefined && named !== '') return { path: named, explicit: true };
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return { path: join(base, 'tollgate', 'config.json'), explicit: false };
}

/** The file's url and token. A default path that does not exist is no config; a named one must exist. */
export function readConfig(path: string, explicit: boolean): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`${path}: expected an object with "url" and/or "token"`);
  const out: ConfigFile = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k !== 'url' && k !== 'token') throw new UsageError(`${path}: unknown field "${k}" (only "url" and "token")`);
    if (typeof v !== 'string' || v === '') throw new UsageError(`${path}: "${k}" must be a non-empty string`);
    out[k] = v;
  }
  if (out.token !== undefined && process.platform !== 'win32') {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new UsageError(`${path}: holds an admin token but is readable by others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${path}`);
    }
  }
  return out;
}

const DEFAULT_URL = (env: NodeJS.ProcessEnv): string => `http://127.0.0.1:${env.TOLLGATE_CONTROL_PORT ?? '7070'}`;
const firstToken = (list: string | undefined): string | undefined => list?.split(',')[0]?.trim() || undefined;

/**
 * URL: --url, TOLLGATE_URL, the file's url, else the local default. Token: --token, TOLLGATE_TOKEN,
 * TOLLGATE_ADMIN_TOKEN (the first if it lists several, as the service takes it), the file's token. The file is read
 * only when a value is still missing (or --config names it: then it must be valid).
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv): Connection {
  let url = flags.url ?? (env.TOLLGATE_URL || undefined);
  let token = flags.token ?? (env.TOLLGATE_TOKEN || undefined) ?? firstToken(env.TOLLGATE_ADMIN_TOKEN);
  const { path, explicit } = configPath(flags.config, env);
  if (url === undefined || token === undefined || explicit) {
    const file = readConfig(path, explicit);
    url ??= file.url;
    token ??= file.token;
  }
  url ??= DEFAULT_URL(env);
  if (token === undefined) throw new UsageError(`no admin token: pass --token, set TOLLGATE_TOKEN (or TOLLGATE_ADMIN_TOKEN), or put "token" in ${path}`);
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--url: expected http:// or https://, got ${url}`);
  return { url: url.replace(/\/+$/, ''), token };
}
