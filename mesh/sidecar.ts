// The local sidecar's control plane half: follows the control service's WasmPlugin like Envoy follows ECDS.
// First version → host.load (module fetched from the url, sha256 checked); later versions → host.reconfigure, which
// canaries the new configuration and keeps the old one serving when it is refused. Every version is acknowledged
// (applied/rejected), and the applied one is re-acknowledged periodically with the upstream's health so the control
// service's /readyz reflects a sidecar that is really serving.
import type { Host } from '../host/index.js';
import type { DistributionClient } from './distribution-client.js';
import { fetchModule } from './module-source.js';
import { planChange, readWasmPlugin, pluginSpecFromPlan, type PluginPlan } from './plugin-spec.js';

export interface SidecarOptions {
  host: Host;
  client: DistributionClient;
  /** Proxy id in acks (Envoy: the node id). */
  proxyId: string;
  /** Health probe of the upstream, included in acks. */
  upstreamHealthy: () => Promise<boolean>;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Long-poll hold asked of the control service. */
  waitSeconds?: number;
  reackIntervalMs?: number;
  /** Fetches module bytes; default file:// with sha256 check. */
  fetchModule?: (url: string, sha256?: string) => Promise<Uint8Array>;
  /**
   * While true, a new version is not applied: the sidecar keeps serving (and reporting) the one it has, as a proxy
   * held back in a staged rollout does. Checked when a version arrives and every holdPollMs after.
   */
  held?: () => boolean;
  holdPollMs?: number;
}

export interface SidecarState {
  /** Version currently serving. */
  appliedVersion?: string;
  appliedAt?: number;
  /** Newest version seen (applied or rejected). */
  latestVersion?: string;
  lastRejection?: { version: string; message: string };
  controlReachable: boolean;
  versionsApplied: number;
  versionsRejected: number;
}

export interface Sidecar {
  state(): SidecarState;
  /** Resolves once a first configuration is serving. */
  firstApplied: Promise<void>;
  /** Acknowledge the serving version again now (e.g. once the listener is up, so readiness follows at once). */
  reack(): Promise<void>;
  stop(): Promise<void>;
}

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function startSidecar(opts: SidecarOptions): Sidecar {
  const waitSeconds = opts.waitSeconds ?? 25;
  const fetchBytes = opts.fetchModule ?? fetchModule;
  const abort = new AbortController();
  const state: SidecarState = { controlReachable: false, versionsApplied: 0, versionsRejected: 0 };
  let plan: PluginPlan | undefined;
  let resolveFirst: () => void = () => {};
  const firstApplied = new Promise<void>((resolve) => { resolveFirst = resolve; });

  const sendAck = async (version: string, status: 'applied' | 'rejected', message?: string) => {
    try {
      const upstreamHealthy = status === 'applied' ? await opts.upstreamHealthy() : undefined;
      await opts.client.ack({ proxy: opts.proxyId, version, status, ...(message ? { message } : {}), ...(upstreamHealthy === undefined ? {} : { upstreamHealthy }) }, abort.signal);
    } catch (err) {
      if (!abort.signal.aborted && state.controlReachable) opts.log('warn', `ack of ${version} failed: ${errorMessage(err)}`);
    }
  };

  const apply = async (version: string, wasmPlugin: unknown) => {
    state.latestVersion = version;
    try {
      const next = readWasmPlugin(wasmPlugin);
      const change = planChange(plan, next);
      if (change === 'replace') throw new Error('the module, root id, VM id or fail strategy changed; the local sidecar applies that only on restart');
      if (change === 'load') await opts.host.load(pluginSpecFromPlan(next, await fetchBytes(next.url, next.sha256)));
      if (change === 'reconfigure') await opts.host.reconfigure(next.pluginConfig);
      plan = next;
      state.appliedVersion = version;
      state.appliedAt = Date.now();
      state.versionsApplied++;
      opts.log('info', `configuration ${version} ${change === 'load' ? 'loaded' : change === 'reconfigure' ? 'applied' : 'unchanged'}`);
      resolveFirst();
      await sendAck(version, 'applied');
    } catch (err) {
      state.versionsRejected++;
      state.lastRejection = { version, message: errorMessage(err) };
      opts.log('error', `configuration ${version} rejected, ${state.appliedVersion ? `still serving ${state.appliedVersion}` : 'nothing serving yet'}: ${errorMessage(err)}`);
      await sendAck(version, 'rejected', errorMessage(err).slice(0, 1000));
    }
  };

  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    abort.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

  const loop = async () => {
    let failures = 0;
    while (!abort.signal.aborted) {
      try {
        // After an outage, ask without holding: a restarted control service must hear from us at once (acks and
        // readiness), not after a full long-poll hold.
        const reconnecting = !state.controlReachable;
        const reply = await opts.client.poll(state.latestVersion, reconnecting ? 0 : waitSeconds, abort.signal);
        state.controlReachable = true;
        if (reconnecting && failures > 0) opts.log('info', 'control service reachable again');
        failures = 0;
        if (reply !== 'unchanged' && state.appliedVersion !== undefined && opts.held?.() === true) {
          // Not taken: latestVersion stays, so the first poll after the hold answers with the newest version at once.
          opts.log('info', `holding back configuration ${reply.version.slice(0, 12)} (still serving ${state.appliedVersion.slice(0, 12)})`);
          while (!abort.signal.aborted && opts.held() === true) await sleep(opts.holdPollMs ?? 250);
          opts.log('info', 'hold released');
          continue;
        }
        if (reply !== 'unchanged') await apply(reply.version, reply.wasmPlugin);
        else if (reconnecting && state.appliedVersion !== undefined) await sendAck(state.appliedVersion, 'applied');
      } catch (err) {
        if (abort.signal.aborted) break;
        // Log the transition, not every retry: the control service may be down for a while (it keeps serving here).
        if (state.controlReachable || failures === 0) opts.log('warn', `control service unreachable (${errorMessage(err)}); still enforcing ${state.appliedVersion ?? 'nothing'}, retrying`);
        state.controlReachable = false;
        failures++;
        await sleep(Math.min(1000, 100 * 2 ** Math.min(failures, 4)));
      }
    }
  };

  const done = loop();
  const reackTimer = setInterval(() => {
    if (state.appliedVersion !== undefined && state.controlReachable) void sendAck(state.appliedVersion, 'applied');
  }, opts.reackIntervalMs ?? 10_000);
  reackTimer.unref();

  return {
    state: () => ({ ...state }),
    firstApplied,
    async reack() {
      if (state.appliedVersion !== undefined) await sendAck(state.appliedVersion, 'applied');
    },
    async stop() {
      clearInterval(reackTimer);
      abort.abort();
      await done;
    },
  };
}
