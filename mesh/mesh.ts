// Wires the local mesh together: demo upstream, control service (supervised child process), the Envoy-like host
// as sidecar (HTTP front + filter) fed by the control service's WasmPlugin, the demo seed and the status line.
// Start order mirrors a pod: upstream first, then the control plane, then the sidecar, whose listener opens only
// once the first configuration is loaded (Envoy waits for ECDS before it serves: initial_fetch_timeout 0).
import { createWriteStream, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHost, startFront, type Host, type LogRecord } from '../host/index.js';
import { adminClient, AdminApiError } from './admin-client.js';
import { startDemoUpstream, type DemoUpstream } from './demo-upstream.js';
import { distributionClient } from './distribution-client.js';
import { startControlProcess } from './control-process.js';
import { buildFilter, buildSteps, filterNeedsBuild } from './filter-build.js';
import { ensureHome, homePaths, openPrivateLog, readSeed, resolveTokens, writeSeed } from './home.js';
import { adminTokenLine, curlLines } from './instructions.js';
import { filterCounts } from './filter-metrics.js';
import { sha256Hex } from './module-source.js';
import { seedDemo } from './seed.js';
import type { MeshSettings } from './settings.js';
import { startSidecar, type Sidecar } from './sidecar.js';
import { reapStaleControl } from './stale-processes.js';
import { formatStatus, type MeshStatus, type StatusWriter } from './status-line.js';
import { freePort, httpReachable, waitForHttp } from './wait.js';

/**
 * Envoy cluster name the filter flushes usage to and pulls keys from (the key feed rides on usage: same cluster,
 * authority and credential); the control service compiles it into usage.cluster.
 */
export const USAGE_CLUSTER = 'tollgate-control';
/** Longest wait on shutdown for the filter's last usage flush. */
const FINAL_FLUSH_MAX_MS = 5000;
/** Longest wait at start for the filter's first key-feed snapshot before the banner is printed anyway. */
const FEED_WAIT_MS = 15_000;

/** Whether the filter reports a key set from the feed (its revision gauge set) within timeoutMs. */
async function keySetLoaded(host: Host, timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (filterCounts(host.metrics()).feedRevision !== undefined) return true;
    if (Date.now() >= deadline || signal?.aborted === true) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface MeshOptions {
  /** Repository root (where bin/, build/, assembly/ live). */
  root: string;
  out: StatusWriter;
  /** How often the status line is refreshed. */
  statusEveryMs?: number;
  /** Aborts a start in progress (Ctrl-C while waiting for the control service or the first configuration). */
  signal?: AbortSignal;
}

export class StartInterruptedError extends Error {
  override name = 'StartInterruptedError';
}

/** Resolves like `p`, or rejects as soon as `signal` aborts. */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(new StartInterruptedError('start interrupted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new StartInterruptedError('start interrupted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export interface Mesh {
  controlUrl: string;
  proxyUrl: string;
  upstreamUrl: string;
  close(): Promise<void>;
}

interface Closer { name: string; close: () => Promise<void> | void }

export async function startMesh(settings: MeshSettings, opts: MeshOptions): Promise<Mesh> {
  const { out, root } = opts;
  const closers: Closer[] = [];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c.close();
      } catch (err) {
        out.log(`shutdown: ${c.name}: ${(err as Error).message}`);
      }
    }
  };
  try {
    return await boot(settings, root, out, closers, closeAll, opts.statusEveryMs ?? 1000, opts.signal);
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function boot(settings: MeshSettings, root: string, out: StatusWriter, closers: Closer[], closeAll: () => Promise<void>, statusEveryMs: number, signal: AbortSignal | undefined): Promise<Mesh> {
  const t0 = Date.now();
  const phases: string[] = [];
  let mark = t0;
  const phase = (name: string) => { const now = Date.now(); phases.push(`${name} ${((now - mark) / 1000).toFixed(1)} s`); mark = now; };
  const paths = homePaths(settings.home);
  ensureHome(settings.home);
  await reapStaleControl(settings.home, (m) => out.log(m));
  const tokens = resolveTokens(settings.home, { admin: settings.adminToken, report: settings.reportToken });

  const wasmPath = join(root, 'build', 'tollgate.wasm');
  if (filterNeedsBuild(wasmPath, join(root, 'assembly'))) {
    out.log('building the filter (build/tollgate.wasm is missing or older than assembly/)…');
    await buildFilter(root);
  }
  const wasmSha256 = sha256Hex(readFileSync(wasmPath));
  phase('filter');
  // The web console (docs/console.md) ships as sources; built like the filter, only when missing or stale.
  if (filterNeedsBuild(join(root, 'console', 'dist', 'index.html'), join(root, 'console', 'src'))) {
    out.log('building the console (console/dist is missing or older than console/src)…');
    await buildSteps(root, ['console']);
    phase('console');
  }

  const upstream: DemoUpstream = await startDemoUpstream({ port: settings.upstreamPort, address: settings.address });
  closers.push({ name: 'demo upstream', close: () => upstream.close() });
  const upstreamUrl = `http://${settings.address}:${upstream.port}`;

  // The control service must keep one port across restarts: the sidecar's cluster and long-poll point at it.
  const controlPort = settings.controlPort === 0 ? await freePort() : settings.controlPort;
  const control = startControlProcess({
    root, home: settings.home, address: settings.address, port: controlPort,
    adminToken: tokens.admin, reportToken: tokens.report, wasmPath, wasmSha256,
    usageCluster: USAGE_CLUSTER, usageIntervalMs: settings.usageIntervalMs, log: (m) => out.log(m),
    ...(settings.db !== undefined ? { db: settings.db } : {}),
  });
  closers.push({ name: 'control service', close: () => control.stop() });

  const controlUrl = control.url;
  if ((await unlessAborted(waitForHttp(`${controlUrl}/healthz`, { timeoutMs: 60_000, signal }), signal)) !== 200) {
    throw new Error(`the control service did not become healthy on ${controlUrl} within 60 s; see ${paths.controlLog}:\n${tail(paths.controlLog, 15)}`);
  }

  phase('control');
  const admin = adminClient(controlUrl, tokens.admin);
  let seed = readSeed(settings.home);
  let demoKey: string | undefined;
  if (seed === undefined) {
    try {
      const result = await seedDemo(admin);
      writeSeed(settings.home, result.record);
      seed = result.record;
      demoKey = result.key;
    } catch (err) {
      if (!(err instanceof AdminApiError) || err.status !== 409) throw err;
      out.log(`the store already has the demo but ${paths.seed} is gone; create keys with the REST API (${err.message})`);
    }
  }

  // Sidecars in front of the one upstream, each with its own host (own shared data, so its own reporter id), node id,
  // listener and configuration follower: the first on proxyPort, the others on the ports after it (or free ones).
  const units: SidecarUnit[] = [];
  for (let i = 1; i <= settings.sidecars; i++) {
    // A stop file left from an earlier run would take the new sidecar down at once.
    rmSync(controlFile(settings.home, i, 'stop'), { force: true });
    const port = settings.proxyPort === 0 ? 0 : settings.proxyPort + i - 1;
    units.push(await startSidecarUnit(i, {
      settings, out, closers, signal, controlUrl, controlPort, upstream, upstreamUrl, reportToken: tokens.report,
      logPath: i === 1 ? paths.sidecarLog : join(settings.home, `sidecar-${i}.log`), port, waitForKeys: seed !== undefined,
    }));
    phase(settings.sidecars === 1 ? 'sidecar' : `sidecar ${i}`);
  }
  const first = units[0]!;
  const { host, sidecar } = first;
  const proxyUrl = first.proxyUrl;
  // The banner's curl lines must work when printed: wait until the control service sees its current configuration
  // (the seeded demo included) applied by a sidecar with a healthy upstream — the same /readyz the tests use.
  if ((await unlessAborted(waitForHttp(`${controlUrl}/readyz`, { timeoutMs: 30_000, intervalMs: 100, signal }), signal)) !== 200) {
    out.log(`warning: ${controlUrl}/readyz is not 200 yet; the sidecar may still be applying the configuration`);
  }
  phase('ready');
  // `touch <home>/sidecar-<n>.stop` takes sidecar n down (listener, follower, host): it stops reporting and goes
  // stale in GET /v1/fleet. A rollout held back: `touch <home>/sidecar-<n>.hold` (see startSidecarUnit).
  const stopWatch = setInterval(() => {
    for (const u of units) {
      if (u.stopped || !existsSync(controlFile(settings.home, u.index, 'stop'))) continue;
      u.stopped = true;
      out.log(`[sidecar ${u.index}] stop file found: stopping ${u.nodeId}`);
      void u.stop().then(() => out.log(`[sidecar ${u.index}] stopped`));
    }
  }, CONTROL_FILE_POLL_MS);
  stopWatch.unref();
  closers.push({ name: 'sidecar stop watch', close: () => clearInterval(stopWatch) });

  out.log([
    '',
    `tollgate local mesh is up in ${((Date.now() - t0) / 1000).toFixed(1)} s (${phases.join(', ')})`,
    ...units.map((u) => `  proxy (sidecar + filter)  ${u.proxyUrl}${settings.sidecars > 1 ? `  (sidecar ${u.index}, node ${u.nodeId})` : ''}`),
    `  control service           ${controlUrl}  (log: ${paths.controlLog})`,
    `  demo upstream             ${upstreamUrl}`,
    `  home                      ${settings.home}`,
    '',
    adminTokenLine({ proxyUrl, controlUrl, tokensPath: paths.tokens }, settings.adminToken !== undefined ? { kind: 'environment' } : tokens.adminGenerated ? { kind: 'generated', token: tokens.admin } : { kind: 'stored' }),
    ...(seed === undefined ? [] : curlLines({ proxyUrl, controlUrl, tokensPath: paths.tokens }, seed, demoKey)),
    '',
    'Ctrl-C stops everything; a second start reuses the store.',
    '',
  ].join('\n'));

  const status = statusSource(host, sidecar, () => control.pid !== undefined, () => control.restarts);
  const timer = setInterval(() => out.update(formatStatus(status(), Date.now())), statusEveryMs);
  closers.push({ name: 'status line', close: () => { clearInterval(timer); out.stop(); } });

  return { controlUrl, proxyUrl, upstreamUrl, close: closeAll };
}

/** How often the mesh looks for a sidecar's control files (hold, stop). */
const CONTROL_FILE_POLL_MS = 200;

/** `<home>/sidecar-<n>.hold` holds sidecar n's configuration back; `<home>/sidecar-<n>.stop` stops it. */
export function controlFile(home: string, index: number, kind: 'hold' | 'stop'): string {
  return join(home, `sidecar-${index}.${kind}`);
}

/** Envoy's node id for sidecar n of this mesh (what the filter reports as proxy.node, and the distribution acks' proxy). */
export function sidecarNodeId(address: string, index: number): string {
  return `sidecar~${address}~tollgate-local-${process.pid}${index === 1 ? '' : `-${index}`}~local`;
}

interface SidecarUnit {
  index: number;
  nodeId: string;
  host: Host;
  sidecar: Sidecar;
  proxyUrl: string;
  /** The stop file was seen (stop() called). */
  stopped: boolean;
  /** Takes this sidecar down now (its closers at shutdown then do nothing). */
  stop(): Promise<void>;
}

interface UnitContext {
  settings: MeshSettings; out: StatusWriter; closers: Closer[]; signal: AbortSignal | undefined;
  controlUrl: string; controlPort: number; upstream: DemoUpstream; upstreamUrl: string; reportToken: string;
  logPath: string; port: number; waitForKeys: boolean;
}

/**
 * One sidecar: host (with the node id as Envoy's xds.node.id), configuration follower, first configuration, key set,
 * listener. Its closers are pushed in start order, so shutdown runs them in reverse (listener first, host last).
 */
async function startSidecarUnit(index: number, c: UnitContext): Promise<SidecarUnit> {
  const { settings, out, closers, signal } = c;
  const nodeId = sidecarNodeId(settings.address, index);
  const tag = c.settings.sidecars === 1 ? 'sidecar' : `sidecar ${index}`;
  const own: Closer[] = [];
  // Each closer runs once: from stop() (this sidecar alone) or at shutdown, whichever comes first.
  let down = false;
  const push = (closer: Closer): void => { own.push(closer); closers.push({ name: closer.name, close: () => (down ? undefined : closer.close()) }); };
  let sidecarServing = false;
  const hostLog = createWriteStream(c.logPath, { fd: openPrivateLog(c.logPath) });
  push({ name: `${tag} log`, close: () => new Promise<void>((resolve) => hostLog.end(resolve)) });
  const host: Host = createHost({
    workers: settings.workers,
    clock: 'real',
    clusters: { [USAGE_CLUSTER]: { host: settings.address, port: c.controlPort } },
    properties: { 'xds.node.id': nodeId },
    onLog: (r: LogRecord) => {
      hostLog.write(`${new Date().toISOString()} ${r.level} [${r.vm}] ${r.message}\n`);
      if (r.level === 'warn' || r.level === 'error' || r.level === 'critical') out.log(`[filter ${settings.sidecars === 1 ? '' : `${index} `}${r.vm}] ${r.level}: ${r.message}`);
    },
  });
  push({ name: `${tag} host`, close: () => host.close() });
  // Runs before the host closes (closers run in reverse) and after the listener and the follower have stopped: give
  // the filter one more flush tick and wait for its report to land, so Ctrl-C does not lose the last interval's
  // usage (Envoy's drain period plays this part). Bounded, because the interval may be long.
  push({ name: `${tag} final usage flush`, close: async () => {
    if (!sidecarServing) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(settings.usageIntervalMs + 250, FINAL_FLUSH_MAX_MS)));
    await host.settle(5000);
  } });

  let frontListening = false;
  const holdFile = controlFile(settings.home, index, 'hold');
  const sidecar: Sidecar = startSidecar({
    host,
    client: distributionClient(c.controlUrl, c.reportToken),
    proxyId: nodeId,
    upstreamHealthy: async () => frontListening && (await httpReachable(`${c.upstreamUrl}/healthz`)),
    held: () => existsSync(holdFile),
    log: (level, message) => { if (level !== 'info' || !message.startsWith('configuration')) out.log(`[${tag}] ${message}`); },
  });
  push({ name: tag, close: () => sidecar.stop() });
  await unlessAborted(sidecar.firstApplied, signal);
  sidecarServing = true;
  // Keys reach the filter over the key feed, not in the configuration. With a seeded store, the listener opens once
  // the first snapshot is in (bounded), as Envoy opens listeners after its initial fetches: the banner's demo key
  // then answers 200 when pasted, and /readyz follows the listener. An empty store has nothing to wait for.
  if (c.waitForKeys && !(await unlessAborted(keySetLoaded(host, FEED_WAIT_MS, signal), signal))) {
    out.log(`warning: ${tag} has no key set from the control service after ${FEED_WAIT_MS / 1000} s; keys answer 401 until it arrives (see ${c.logPath})`);
  }
  const front = await startFront(host, { port: c.port, address: settings.address, upstream: { host: settings.address, port: c.upstream.port } });
  push({ name: `${tag} front`, close: () => front.close() });
  frontListening = true;
  await sidecar.reack();
  const unit: SidecarUnit = {
    index, nodeId, host, sidecar, proxyUrl: `http://${settings.address}:${front.port}`, stopped: false,
    stop: async () => {
      if (down) return;
      down = true;
      for (const closer of own.splice(0).reverse()) {
        try {
          await closer.close();
        } catch (err) {
          out.log(`${tag}: ${closer.name}: ${(err as Error).message}`);
        }
      }
    },
  };
  return unit;
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * The status line's numbers are the sidecar's own counters (the filter pushes them to the host's stats on its tick);
 * "last flush" is when the filter's successful-flush counter last moved.
 */
function statusSource(host: Host, sidecar: Sidecar, controlAlive: () => boolean, restarts: () => number) {
  const status: MeshStatus = { allowed: 0, denied: 0, controlUp: false, controlRestarts: 0 };
  let flushesOk = 0;
  return (): MeshStatus => {
    const counts = filterCounts(host.metrics());
    if (counts.flushesOk !== flushesOk) status.lastFlushAt = Date.now();
    flushesOk = counts.flushesOk;
    const s = sidecar.state();
    return {
      ...status, allowed: counts.allowed, denied: counts.denied, version: s.appliedVersion, controlUp: controlAlive() && s.controlReachable,
      controlRestarts: restarts(), vmFailures: host.stats().vmFailures,
      ...(counts.feedRevision !== undefined ? { feedRevision: counts.feedRevision, feedKeys: counts.feedKeys ?? 0 } : {}),
    };
  };
}
