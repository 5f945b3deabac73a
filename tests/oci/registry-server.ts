// Test helper: a real registry (Debian's docker-registry, distribution 2.x) on a free loopback port, configured by
// a temporary YAML file with filesystem storage in a temp dir; plus the key material its TLS and token modes need.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

/** Why the registry tests cannot run here, or undefined when they can. */
export function registryUnavailable(): string | undefined {
  return existsSync(REGISTRY_BINARY) ? undefined : `SKIPPED: ${REGISTRY_BINARY} not found — install the Debian package 'docker-registry' (apt-get install docker-registry) to run the real-registry tests`;
}

export function commandMissing(command: string, debianPackage: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
  return found ? undefined : `SKIPPED: '${command}' not found — install the Debian package '${debianPackage}'`;
}

export async function freePort(): Promise<number> {
  // Bind port 0, read the port, release it; the registry cannot be told to use port 0 itself.
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RegistryOptions {
  /** The `auth:` section of the registry config (htpasswd or token), if any. */
  auth?: Record<string, unknown>;
  tls?: { certificate: string; key: string };
}

export interface RunningRegistry {
  host: string;
  dir: string;
  stop(): Promise<void>;
  log(): string;
}

/** Resolves once the registry logs that it listens (so we know it, not some other process, holds the port). */
async function waitUntilListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let attempt = 0; attempt < 150; attempt++) {
    if (log().includes(`listening on 127.0.0.1:${port}`)) return;
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not start listening on port ${port}: ${log()}`);
}

async function startOnce(options: RegistryOptions): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-registry-'));
  const port = await freePort();
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'info', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') } },
    http: { addr: `127.0.0.1:${port}`, secret: 'tollgate-test', ...(options.tls !== undefined ? { tls: options.tls } : {}) },
  };
  if (options.auth !== undefined) config.auth = options.auth;
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, stringify(config));
  const child = spawn(REGISTRY_BINARY, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const log = () => output.slice(-4000);
  try {
    await waitUntilListening(port, child, log);
  } catch (error) {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: `127.0.0.1:${port}`,
    dir,
    log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill();
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a registry; retries with another port if the one we picked was taken in the meantime. */
export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error;
    }
  }
}

/** htpasswd line with a bcrypt hash, made by apache2-utils' htpasswd (the registry accepts bcrypt only). */
export function htpasswdLine(user: string, password: string): string {
  const r = spawnSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
  return r.stdout.trim() + '\n';
}

/** A self-signed certificate for 127.0.0.1 (CA:TRUE, so it can be its own trust anchor), made with openssl. */
export function selfSignedCertificate(dir: string, commonName = '127.0.0.1'): { certificate: string; key: string } {
  const certificate = join(dir, `${commonName}.crt`);
  const key = join(dir, `${commonName}.key`);
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', certificate, '-days', '1',
    '-subj', `/CN=${commonName}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE',
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { certificate, key };
}
