import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { NoContent, Problem, ProblemResponses } from '../../../schemas/common.js';
import { AckBody, DistributionView, WasmPluginQuery, WasmPluginReply } from '../../../schemas/distribution.js';
import { ProblemError } from '../../../errors.js';
import type { DistributionAck } from '../../../../contracts/distribution.js';


const isoMs = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export default async function distributionRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['distribution'];

  app.get('', { schema: { tags, response: { 200: DistributionView, ...ProblemResponses } } }, async () => {
    const current = app.distributor.current;
    const fleet = await app.fleet.view();
    return {
      leader: app.distributor.isLeader,
      version: current?.compiled.version ?? null,
      compiledAt: isoMs(current?.compiledAt ?? null),
      configBytes: current === undefined ? 0 : Buffer.byteLength(current.compiled.json),
      keys: current?.compiled.config.keys?.length ?? 0,
      targets: app.distributor.targetStatuses().map((s) => ({ ...s, distributedAt: isoMs(s.distributedAt) })),
      acks: (await app.store.targets.all()).flatMap((t) => (app.local?.listAcks(t.id) ?? [])
        .map((a) => ({ target: t.id, ...a, receivedAt: new Date(a.receivedAt).toISOString() }))),
      convergence: fleet.convergence.map((c) => ({
        ...c, oldestLaggard: c.oldestLaggard === null ? null : { ...c.oldestLaggard, lastSeen: new Date(c.oldestLaggard.lastSeen).toISOString() },
      })),
    };
  });

  // Local distribution contract (docs/control.md): long-poll for a WasmPlugin newer than `known`. The credential says
  // which target's WasmPlugin: a proxy sees only its own target's configuration.
  app.get('/wasmplugin', {
    config: { auth: 'report' },
    schema: { tags, security: [{ report: [] }], querystring: WasmPluginQuery, response: { 200: WasmPluginReply, 304: Type.Null(), 401: Problem, 503: Problem } },
  }, async (req, reply) => {
    if (app.local === undefined) throw new ProblemError(503, 'Local distribution disabled', "TOLLGATE_DISTRIBUTION does not include 'local'");
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    // The response's close event fires when the client goes away (the request's can fire once its body is read).
    reply.raw.once('close', onClose);
    try {
      const next = await app.local.next(req.reporterTarget!.id, req.query.known, req.query.waitSeconds * 1000, gone.signal);
      if (next === undefined) return reply.code(304).send(null);
      return { version: next.version, wasmPlugin: next.wasmPlugin };
    } finally {
      reply.raw.off('close', onClose);
    }
  });

  app.post('/acks', {
    config: { auth: 'report' },
    schema: { tags, security: [{ report: [] }], body: AckBody, response: { 204: NoContent, 400: Problem, 401: Problem, 503: Problem } },
  }, async (req, reply) => {
    if (app.local === undefined) throw new ProblemError(503, 'Local distribution disabled', "TOLLGATE_DISTRIBUTION does not include 'local'");
    const ack = req.body as DistributionAck;
    app.local.recordAck(req.reporterTarget!.id, { ...ack, receivedAt: Date.now() });
    app.metrics.acks.inc({ status: ack.status });
    req.log.info({ target: req.reporterTarget!.id, proxy: ack.proxy, version: ack.version, status: ack.status, upstreamHealthy: ack.upstreamHealthy }, 'distribution ack');
    return reply.code(204).send(null);
  });
}
