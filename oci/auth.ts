// Registry authentication: parsing WWW-Authenticate challenges, the Bearer token exchange, and finding credentials
// (flags, environment, docker config.json).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { credentialsFromHelper, helperFor, type HelperConfig } from './credential-helper.js';
import { RegistryError, networkError } from './errors.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  /** Lowercase: `bearer`, `basic`, … */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses the first challenge of a WWW-Authenticate header (RFC 7235 auth-params, quoted strings may hold commas,
 * as in `scope="repository:a/b:pull,push"`). Hand-written: Node has no parser and the grammar is a dozen lines.
 */
export function parseChallenge(header: string): Challenge | undefined {
  const match = /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*(.*)$/s.exec(header);
  if (match === null) return undefined;
  const scheme = (match[1] ?? '').toLowerCase();
  const params: Record<string, string> = {};
  const param = /\s*([A-Za-z0-9._~+/-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)/gy;
  const rest = match[2] ?? '';
  for (let m = param.exec(rest); m !== null && m[0] !== ''; m = param.exec(rest)) {
    const key = (m[1] ?? '').toLowerCase();
    params[key] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return { scheme, params };
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

export function credentialsFromEnv(env: NodeJS.ProcessEnv): Credentials | undefined {
  const username = env.TOLLGATE_REGISTRY_USERNAME;
  const password = env.TOLLGATE_REGISTRY_PASSWORD;
  return username && password !== undefined ? { username, password } : undefined;
}

// config.json keys are written as `host`, `https://host` or `https://index.docker.io/v1/`.
function configKeyHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
}

/** Credentials for `registry` from a parsed docker config.json (`auths[host].auth` = base64 of user:pass). */
export function credentialsFromDockerConfig(config: unknown, registry: string): Credentials | undefined {
  const auths = (config as { auths?: Record<string, DockerAuthEntry> } | null)?.auths;
  if (typeof auths !== 'object' || auths === null) return undefined;
  const wanted = configKeyHost(registry);
  for (const [key, entry] of Object.entries(auths)) {
    if (configKeyHost(key) !== wanted || typeof entry !== 'object' || entry === null) continue;
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string') {
      return { username: entry.username, password: entry.password };
    }
  }
  return undefined;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** Reads the docker config file if there is one; a missing file just means no stored credentials. */
export function readDockerConfig(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Flags win over the environment, which wins over docker's config.json; within config.json, as docker does, a
 * credential helper (credHelpers[host], then credsStore) wins over a stored `auths` entry.
 */
export function resolveCredentials(registry: string, flags: Credentials | undefined, env: NodeJS.ProcessEnv): Credentials | undefined {
  const fromFlagsOrEnv = flags ?? credentialsFromEnv(env);
  if (fromFlagsOrEnv !== undefined) return fromFlagsOrEnv;
  const config = readDockerConfig(dockerConfigPath(env));
  const helper = helperFor(config as HelperConfig | undefined, configKeyHost(registry));
  return (helper === undefined ? undefined : credentialsFromHelper(helper, registry, env)) ?? credentialsFromDockerConfig(config, registry);
}

export interface TokenRequest {
  registry: string;
  challenge: Challenge;
  scope: string;
  credentials: Credentials | undefined;
  fetch: typeof fetch;
}

/** The Bearer exchange: GET realm?service&scope, with Basic credentials if we have any; returns the token. */
export async function fetchBearerToken(request: TokenRequest): Promise<string> {
  const { registry, challenge, scope, credentials } = request;
  const realm = challenge.params.realm;
  if (realm === undefined) throw new RegistryError('protocol', `registry ${registry} sent a Bearer challenge without a realm`);
  const url = new URL(realm);
  if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
  url.searchParams.set('scope', scope);
  const headers: Record<string, string> = {};
  if (credentials !== undefined) headers.authorization = basicAuthorization(credentials);
  let response: Response;
  try {
    response = await request.fetch(url, { headers });
  } catch (error) {
    throw networkError(registry, url.origin, error);
  }
  if (response.status === 401 || response.status === 403) {
    const who = credentials === undefined ? 'anonymous access' : `the credentials for user '${credentials.username}'`;
    throw new RegistryError('auth', `authentication to registry ${registry} failed (Bearer scheme): token endpoint ${url.origin}${url.pathname} rejected ${who} (HTTP ${response.status})`);
  }
  if (!response.ok) {
    throw new RegistryError('protocol', `token endpoint ${url.origin}${url.pathname} for registry ${registry} answered HTTP ${response.status}`);
  }
  const body = (await response.json()) as { token?: unknown; access_token?: unknown };
  const token = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new RegistryError('protocol', `token endpoint for registry ${registry} returned no token`);
  }
  return token;
}
