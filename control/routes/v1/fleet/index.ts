import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ProblemResponses } from '../../../schemas/common.js';
import { FleetQuery, FleetView } from '../../../schemas/fleet.js';

/** GET /v1/fleet: every proxy node per target, with its state (docs/control.md "Fleet status"). */
export default async function fleetRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('', { schema: { tags: ['fleet'], querystring: FleetQuery, response: { 200: FleetView, ...ProblemResponses } } }, async (req) => {
    const view = await app.fleet.view();
    const items = view.items
      .filter((i) => (req.query.target === undefined || i.target === req.query.target) && (req.query.state === undefined || i.state === req.query.state))
      .map(({ versionSince: _since, ...i }) => ({
        ...i, lastSeen: new Date(i.lastSeen).toISOString(), vms: i.vms.map((v) => ({ ...v, lastSeen: new Date(v.lastSeen).toISOString() })),
      }));
    return { items, staleAfterSeconds: app.fleet.options.staleAfterSeconds, forgetAfterSeconds: app.fleet.options.forgetAfterSeconds };
  });
}
