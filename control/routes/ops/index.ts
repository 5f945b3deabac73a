// Health, readiness, metrics and the OpenAPI document: no token needed.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { sendProblem } from '../../plugins/app/error-handler.js';
import { Problem } from '../../schemas/common.js';
import { DEFAULT_TARGET_ID } from '../../store/sqlite/targets.js';

const Health = Type.Object({ status: Type.Literal('ok') });
const Ready = Type.Object({ status: Type.Literal('ready'), version: Type.Union([Type.String(), Type.Null()]) });

export default async function opsRoutes(app: FastifyInstance): Promise<void> {
  const config = { auth: 'public' as const };

  app.get('/healthz', { config, schema: { tags: ['ops'], security: [], response: { 200: Health } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config, schema: { tags: ['ops'], security: [], response: { 200: Ready, 503: Problem } } }, async (_req, reply) => {
    const missing: string[] = [];
    const storeOk = await app.store.ping().catch(() => false);
    if (!storeOk) missing.push('the store is not open');
    if (app.local !== undefined) {
      // The local mesh's sidecar follows the default target.
      const reason = app.local.notReadyReason(DEFAULT_TARGET_ID, Date.now());
      if (reason !== undefined) missing.push(reason);
    }
    if (missing.length > 0) return sendProblem(reply, { status: 503, title: 'Not ready', detail: missing.join('; ') });
    return { status: 'ready', version: app.distributor.current?.compiled.version ?? null };
  });

  app.get('/metrics', { config, schema: { tags: ['ops'], security: [], response: { 200: Type.String({ description: 'Prometheus text format' }) } } }, async (_req, reply) => {
    const current = app.distributor.current;
    if (current !== undefined) {
      app.metrics.configKeys.set((current.compiled.config.keys ?? []).length);
      app.metrics.configBytes.set(Buffer.byteLength(current.compiled.json));
    }
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
  });

  app.get('/openapi.json', { config, schema: { hide: true } }, async () => app.swagger());
}
