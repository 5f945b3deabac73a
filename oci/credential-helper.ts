// Docker credential helpers (`credHelpers` / `credsStore` in config.json): `docker-credential-<name> get` reads the
// server URL on stdin and prints {"Username","Secret"}. This is how Docker Desktop keychains and cloud registries
// (ECR, GCR/Artifact Registry, ACR) hand out credentials, so honouring it saves users a copy of their password.
import { spawnSync } from 'node:child_process';
import type { Credentials } from './auth.js';

export interface HelperConfig {
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** The helper to ask for `host`: a per-registry helper wins over the default store. */
export function helperFor(config: HelperConfig | undefined, host: string): string | undefined {
  const specific = config?.credHelpers?.[host];
  if (typeof specific === 'string' && specific !== '') return specific;
  return typeof config?.credsStore === 'string' && config.credsStore !== '' ? config.credsStore : undefined;
}

/** The server name helpers are keyed by: Docker Hub keeps its historical URL. */
export function helperServerUrl(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

/** Runs the helper; undefined when it has nothing for this registry, an error when it cannot run. */
export function credentialsFromHelper(helper: string, registry: string, env: NodeJS.ProcessEnv): Credentials | undefined {
  const program = `docker-credential-${helper}`;
  const r = spawnSync(program, ['get'], { input: helperServerUrl(registry), encoding: 'utf8', env, timeout: 30_000 });
  // EPIPE only means the helper exited without reading the server name; its exit status still tells.
  if (r.error !== undefined && (r.status === null || (r.error as NodeJS.ErrnoException).code !== 'EPIPE')) throw new Error(`credential helper ${program} for ${registry} could not run: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
  if (r.status !== 0) {
    // The protocol's way of saying "no entry": not an error, just no credentials.
    if (/credentials not found/i.test(`${r.stdout}${r.stderr}`)) return undefined;
    throw new Error(`credential helper ${program} for ${registry} failed (exit ${r.status}): ${r.stderr.trim().slice(0, 200)}`);
  }
  let reply: { Username?: unknown; Secret?: unknown };
  try {
    reply = JSON.parse(r.stdout) as { Username?: unknown; Secret?: unknown };
  } catch {
    throw new Error(`credential helper ${program} for ${registry} printed something that is not JSON`);
  }
  if (typeof reply.Username !== 'string' || typeof reply.Secret !== 'string' || reply.Secret === '') return undefined;
  return { username: reply.Username, password: reply.Secret };
}
