import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PlanCreate, PlanPatch, PlanView } from '../../../schemas/plans.js';
import { IdParams, NoContent, PageOf, PageQuery, ProblemResponses } from '../../../schemas/common.js';
import { pageRequest } from '../../../pagination.js';
import { pageView, planView } from '../views.js';

export default async function planRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['plans'];

  app.post('', { schema: { tags, body: PlanCreate, response: { 201: PlanView, ...ProblemResponses } } }, async (req, reply) =>
    reply.code(201).send(planView(await app.store.plans.create(req.body))));

  app.get('', { schema: { tags, querystring: PageQuery, response: { 200: PageOf(PlanView), ...ProblemResponses } } }, async (req) =>
    pageView(await app.store.plans.list(pageRequest(req.query)), planView));

  app.get('/:id', { schema: { tags, params: IdParams, response: { 200: PlanView, ...ProblemResponses } } }, async (req) =>
    planView(await app.store.plans.get(req.params.id)));

  app.patch('/:id', { schema: { tags, params: IdParams, body: PlanPatch, response: { 200: PlanView, ...ProblemResponses } } }, async (req) =>
    planView(await app.store.plans.update(req.params.id, req.body)));

  app.delete('/:id', { schema: { tags, params: IdParams, response: { 204: NoContent, ...ProblemResponses } } }, async (req, reply) => {
    await app.store.plans.delete(req.params.id);
    return reply.code(204).send(null);
  });
}
