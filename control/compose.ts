// The composition root: the one place the control service's parts are created and wired, in data-flow order
// (change feed → store → credentials and the default target → usage service; then distribution subscribed to the
// store's changes). app.ts, render-cli.ts and, through `tollgate control`, the local mesh all start from here.
import type { FastifyBaseLogger } from 'fastify';
import { Distributor } from './distribution/distributor.js';
import { AdvisoryLeader, AlwaysLeader, type Leadership } from './replicas/leader.js';
import { CHANGES_CHANNEL, NotifyBridge } from './replicas/notify-feed.js';
import { isPostgresStore } from './store/postgres/index.js';
import { pluginImage, targetsFromSettings, usageEndpoint } from './distribution/targets/from-settings.js';
import type { LocalTarget } from './distribution/targets/local.js';
import type { DistributionTarget } from './distribution/targets/target.js';
import type { Tokens } from './plugins/app/decorations.js';
import type { ControlSettings } from './settings.js';
import { ChangeFeed } from './store/changes.js';
import type { Store } from './store/repository.js';
import { openStore } from './store/open-store.js';
import type { TargetWithCredentials } from './store/types.js';
import { ensureDefaultTarget, resolveTokens } from './tokens.js';
import { UsageService } from './usage/service.js';

export interface ControlCore {
  changes: ChangeFeed;
  store: Store;
  tokens: Tokens;
  /** As it was at start-up (its credential, for the local mesh and tests). */
  defaultTarget: TargetWithCredentials;
  usage: UsageService;
}

/** `close` stops the distributor and gives up what this replica holds in the database (the leader lock, LISTEN). */
export interface Distribution { distributor: Distributor; local: LocalTarget | undefined; close(): Promise<void> }

/** Where compiled configurations will go; throws SettingsError first, before anything is opened. */
export function sinksFor(settings: ControlSettings): { sinks: DistributionTarget[]; local: LocalTarget | undefined } {
  const { targets, local } = targetsFromSettings(settings);
  return { sinks: targets, local };
}

/**
 * Store, credentials, default target and usage service. `announce` receives a generated admin token, once; without
 * it (a tool that serves nothing) none is generated.
 */
export async function composeCore(settings: ControlSettings, announce: ((adminToken: string) => void) | undefined): Promise<ControlCore> {
  const changes = new ChangeFeed();
  const store = await openStore({ url: settings.dbPath, changes });
  try {
    const tokens = await resolveTokens(store.secrets, settings, announce);
    const defaultTarget = await ensureDefaultTarget(store, settings, tokens.adminDigests);
    return { changes, store, tokens, defaultTarget, usage: new UsageService(store.usage, { usageRetentionDays: settings.usageRetentionDays, rollupEveryMs: 1000, changes }) };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * The distributor over the core's store, redistributing on every change it publishes. On PostgreSQL, replicas hear
 * each other's changes through LISTEN/NOTIFY and exactly one of them (the advisory-lock holder) publishes to shared
 * sinks; a SQLite process is alone and always leads.
 */
export function composeDistribution(core: ControlCore, settings: ControlSettings, sinks: ReturnType<typeof sinksFor>, log: FastifyBaseLogger,
  onDistributed?: (version: string, sink: string, ok: boolean) => void): Distribution {
  const store = core.store;
  let leadership: Leadership = new AlwaysLeader();
  let bridge: NotifyBridge | undefined;
  if (isPostgresStore(store)) {
    leadership = new AdvisoryLeader({ connect: () => store.connect(), log });
    bridge = new NotifyBridge({
      changes: core.changes, connect: () => store.connect(), log,
      notify: async () => { await store.pool.query(`NOTIFY ${CHANGES_CHANNEL}`); },
    });
  }
  const distributor = new Distributor({
    store: core.store,
    changes: core.changes,
    leadership,
    targets: sinks.sinks,
    plugin: pluginImage(settings),
    usage: usageEndpoint(settings),
    debounceMs: settings.debounceMs,
    log,
    ...(onDistributed !== undefined ? { onDistributed } : {}),
  });
  return {
    distributor,
    local: sinks.local,
    close: async () => {
      await distributor.close();
      await bridge?.close();
      await leadership.close();
    },
  };
}
