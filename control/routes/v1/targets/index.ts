// Targets: where compiled configurations go (the resource kind and its placement), what each covers, and each one's
// reporter credential.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { IdParams, NoContent, PageOf, PageQuery, ProblemResponses } from '../../../schemas/common.js';
import { RotateReportToken, TargetCreate, TargetPatch, TargetView, TargetWithToken } from '../../../schemas/targets.js';
import { newToken } from '../../../key-material.js';
import { pageRequest } from '../../../pagination.js';
import { withoutCredentials } from '../../../store/sqlite/targets.js';
import { DEFAULT_RESOURCE_KIND } from '../../../../contracts/resources.js';
import type { TargetWithCredentials } from '../../../store/types.js';
import { iso, isoOrNull, pageView } from '../views.js';

const targetView = (t: TargetWithCredentials) => {
  const v = withoutCredentials(t);
  return {
    ...v, rateLimitHeaderStyle: v.rateLimitHeaderStyle ?? 'legacy', shadowHeader: v.shadowHeader ?? null,
    kind: v.kind ?? DEFAULT_RESOURCE_KIND, imagePullSecret: v.imagePullSecret ?? null,
    createdAt: iso(v.createdAt), updatedAt: iso(v.updatedAt),
  };
};
const withToken = (t: TargetWithCredentials) => ({ ...targetView(t), reportToken: t.reportToken, previousValidUntil: isoOrNull(t.previousValidUntil) });

export default async function targetRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['targets'];

  app.post('', { schema: { tags, body: TargetCreate, response: { 201: TargetWithToken, ...ProblemResponses } } }, async (req, reply) => {
    const b = req.body;
    const created = await app.store.targets.create({
      name: b.name, namespace: b.namespace, selector: b.selector ?? null, targetRefs: b.targetRefs ?? null,
      kind: b.kind ?? DEFAULT_RESOURCE_KIND, imagePullSecret: b.imagePullSecret ?? null,
      apiIds: b.apiIds ?? [], denyUnmatched: b.denyUnmatched ?? false, passPathForms: b.passPathForms ?? [],
      rateLimitHeaderStyle: b.rateLimitHeaderStyle ?? 'legacy', shadowHeader: b.shadowHeader ?? null,
    }, newToken('tgr_'));
    return reply.code(201).send(withToken(created));
  });

  app.get('', { schema: { tags, querystring: PageQuery, response: { 200: PageOf(TargetView), ...ProblemResponses } } }, async (req) =>
    pageView(await app.store.targets.list(pageRequest(req.query)), targetView));

  app.get('/:id', { schema: { tags, params: IdParams, response: { 200: TargetView, ...ProblemResponses } } }, async (req) =>
    targetView(await app.store.targets.get(req.params.id)));

  app.patch('/:id', { schema: { tags, params: IdParams, body: TargetPatch, response: { 200: TargetView, ...ProblemResponses } } }, async (req) => {
    // The store checks the placement the patch leads to (422) in the same transaction as the write, so two patches
    // at once cannot combine into one the kind cannot express.
    return targetView(await app.store.targets.update(req.params.id, req.body));
  });

  app.delete('/:id', { schema: { tags, params: IdParams, response: { 204: NoContent, ...ProblemResponses } } }, async (req, reply) => {
    await app.store.targets.delete(req.params.id);
    return reply.code(204).send(null);
  });

  // A new reporter credential; the current one keeps working for graceSeconds, so batches that proxies retry with it
  // while the new WasmPlugin reaches them are not lost.
  app.post('/:id/rotate-report-token', { schema: { tags, params: IdParams, body: RotateReportToken, response: { 200: TargetWithToken, ...ProblemResponses } } }, async (req) => {
    const graceSeconds = req.body?.graceSeconds ?? 900;
    const rotated = await app.store.targets.rotateReportToken(req.params.id, newToken('tgr_'), Math.floor(Date.now() / 1000) + graceSeconds);
    return withToken(rotated);
  });
}
