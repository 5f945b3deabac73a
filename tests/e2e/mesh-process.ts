// Runs `node bin/tollgate.mjs start` as a real process for the end-to-end tests: free ports, a temp TOLLGATE_HOME,
// a short usage interval, and helpers to talk to the proxy and the admin API.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PidRecord } from '../../mesh/home.js';
import { freePort, waitForHttp } from '../../mesh/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
export const USAGE_INTERVAL_MS = 500;

export interface MeshProcess {
  child: ChildProcess;
  home: string;
  controlUrl: string;
  proxyUrl: string;
  output(): string;
  pids(): PidRecord;
  /** Ctrl-C as a terminal sends it (SIGINT to the process group) and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface MeshPorts { control: number; proxy: number; upstream: number }

export async function freePorts(): Promise<MeshPorts> {
  return { control: await freePort(), proxy: await freePort(), upstream: await freePort() };
}

/** `args`: more arguments after `start`; `env`: more environment on top of the test's. */
export async function startMeshProcess(home: string, ports: MeshPorts, extra: { args?: string[]; env?: Record<string, string> } = {}): Promise<MeshProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tollgate.mjs'), 'start', ...(extra.args ?? [])], {
    cwd: ROOT,
    env: {
      ...process.env,
      TOLLGATE_HOME: home,
      TOLLGATE_CONTROL_PORT: String(ports.control),
      TOLLGATE_PROXY_PORT: String(ports.proxy),
      TOLLGATE_UPSTREAM_PORT: String(ports.upstream),
      TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      TOLLGATE_USAGE_INTERVAL_MS: String(USAGE_INTERVAL_MS),
      ...extra.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so stop() can do what a terminal's Ctrl-C does: SIGINT to the whole group.
    detached: true,
  });
  // If this test process dies without its after() hooks, take the mesh and its control service with it (SIGTERM:
  // the mesh shuts down by itself; the control service is signalled too, being in a process group of its own).
  const reap = () => {
    const pids: number[] = [-child.pid!];
    try {
      const control = (JSON.parse(readFileSync(join(home, 'pids.json'), 'utf8')) as PidRecord).control;
      if (control !== null) pids.push(control);
    } catch {
      // no pids file yet
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  let output = '';
  child.stdout!.on('data', (c: Buffer) => { output += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { output += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const controlUrl = `http://127.0.0.1:${ports.control}`;
  const mesh: MeshProcess = {
    child,
    home,
    controlUrl,
    proxyUrl: `http://127.0.0.1:${ports.proxy}`,
    output: () => output,
    pids: () => JSON.parse(readFileSync(join(home, 'pids.json'), 'utf8')) as PidRecord,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      process.kill(-child.pid!, 'SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  // Ready = the control service says the sidecar applied the current configuration and its upstream is healthy.
  const status = await Promise.race([
    waitForHttp(`${controlUrl}/readyz`, { timeoutMs: 150_000, intervalMs: 200 }),
    exited.then(() => -1),
  ]);
  if (status !== 200) {
    await mesh.stop();
    throw new Error(`mesh not ready (readyz ${status}); output:\n${output}`);
  }
  // The listener opens right after the first apply; make sure it answers before tests start.
  await waitForHttp(`${mesh.proxyUrl}/`, { timeoutMs: 10_000, accept: () => true });
  return mesh;
}

export function admin(mesh: { controlUrl: string }) {
  return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${mesh.controlUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  };
}

export interface ProxyReply { status: number; headers: Headers; body: string; json<T = Record<string, unknown>>(): T }

export async function viaProxy(mesh: { proxyUrl: string }, path: string, key?: string, headers: Record<string, string> = {}): Promise<ProxyReply> {
  const res = await fetch(`${mesh.proxyUrl}${path}`, { headers: { ...(key === undefined ? {} : { 'x-api-key': key }), ...headers } });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body, json: <T>() => JSON.parse(body) as T };
}

/** Polls `probe` until it returns a value other than undefined, or fails after timeoutMs. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
