// Wires fleet status into the app: the service (store rows, settings, each target's current version from the
// distributor and the key feed's head), `app.fleet`, the gauges, and GET /v1/fleet.
import type { FastifyInstance } from 'fastify';
import fleetRoutes from '../routes/v1/fleet/index.js';
import { fleetStaleAfterSeconds } from '../settings.js';
import { registerFleetGauges } from './gauges.js';
import { FleetService } from './service.js';

declare module 'fastify' {
  interface FastifyInstance {
    fleet: FleetService;
  }
}

export async function registerFleet(app: FastifyInstance): Promise<void> {
  const fleet = new FleetService(app.store.fleet, {
    staleAfterSeconds: fleetStaleAfterSeconds(app.settings),
    forgetAfterSeconds: app.settings.forgetAfterSeconds,
    maxRowsPerTarget: app.settings.fleetMaxRowsPerTarget,
    heads: async () => {
      const targets = await app.store.targets.all();
      const heads = new Map<string, { version: string | null; feedEpoch: string; feedHead: number }>();
      // The feed's head is one revision sequence for every scope: a caught-up proxy holds the head.
      const feed = await app.store.keyFeed.state();
      for (const t of targets) heads.set(t.id, { version: app.distributor.currentFor(t.id)?.compiled.version ?? null, feedEpoch: feed.epoch, feedHead: feed.head });
      return heads;
    },
  });
  app.decorate('fleet', fleet);
  registerFleetGauges(app.metrics.registry, () => fleet.gaugeView());
  await app.register(fleetRoutes, { prefix: '/v1/fleet' });
}
