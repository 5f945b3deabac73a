// GET /v1/discovery (status) and GET /v1/discovery/plan (the dry run), admin only. The work is control/discovery/.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ProblemError } from '../../../errors.js';
import { Problem, ProblemResponses } from '../../../schemas/common.js';
import { DiscoveryPlanReply, DiscoveryStatusView } from '../../../schemas/discovery.js';
import type { Discovery } from '../../../discovery/service.js';
import { errorText } from '../../../discovery/spec-source.js';

export interface DiscoveryRouteOptions {
  /** The running discovery (TOLLGATE_DISCOVERY=true), else undefined. */
  running: Discovery | undefined;
  /** A discovery to plan with when none runs (namespaces configured but discovery off), else undefined. */
  planner: () => Discovery | undefined;
}

const iso = (s: number | null): string | null => (s === null ? null : new Date(s * 1000).toISOString());
const isoMs = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export default async function discoveryRoutes(fastify: FastifyInstance, opts: DiscoveryRouteOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['discovery'];

  app.get('', {
    schema: { tags, summary: 'Service discovery: watching, last sync, the last result per Service', response: { 200: DiscoveryStatusView, ...ProblemResponses } },
  }, async () => {
    const d = opts.running;
    if (d === undefined) {
      return { enabled: false, leader: false, watching: false, synced: false, adopt: app.settings.discoveryAdopt, lastSyncAt: null, lastSyncError: null, syncs: 0, namespaces: [], services: [] };
    }
    const s = d.status();
    return {
      ...s, lastSyncAt: iso(s.lastSyncAt),
      namespaces: s.namespaces.map((n) => ({ ...n, lastErrorAt: isoMs(n.lastErrorAt) })),
      services: s.services.map((r) => ({ ...r, at: iso(r.at)! })),
    };
  });

  app.get('/plan', {
    schema: {
      tags, summary: 'Dry run: what discovery would create, update, retire or skip now (nothing is written)',
      response: { 200: DiscoveryPlanReply, ...ProblemResponses, 502: Problem },
    },
  }, async () => {
    const d = opts.running ?? opts.planner();
    if (d === undefined) throw new ProblemError(409, 'Conflict', 'discovery has no namespaces: set TOLLGATE_DISCOVERY_NAMESPACES');
    try {
      const { source, rows } = await d.dryRun();
      return { source, namespaces: [...app.settings.discoveryNamespaces], items: rows };
    } catch (err) {
      throw new ProblemError(502, 'Bad Gateway', `listing Services failed: ${errorText(err)}`);
    } finally {
      if (d !== opts.running) await d.close();
    }
  });
}
