import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ConsumerCreate, ConsumerPatch, ConsumerView } from '../../../schemas/consumers.js';
import { IdParams, NoContent, PageOf, PageQuery, ProblemResponses } from '../../../schemas/common.js';
import { KeyCreate, KeyCreated, KeyView } from '../../../schemas/keys.js';
import { pageRequest } from '../../../pagination.js';
import { newApiKey } from '../../../key-material.js';
import { ProblemError } from '../../../errors.js';
import { consumerView, keyView, pageView, unixOf } from '../views.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export default async function consumerRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['consumers'];

  app.post('', { schema: { tags, body: ConsumerCreate, response: { 201: ConsumerView, ...ProblemResponses } } }, async (req, reply) =>
    reply.code(201).send(consumerView(await app.store.consumers.create(req.body.name))));

  app.get('', { schema: { tags, querystring: PageQuery, response: { 200: PageOf(ConsumerView), ...ProblemResponses } } }, async (req) =>
    pageView(await app.store.consumers.list(pageRequest(req.query)), consumerView));

  app.get('/:id', { schema: { tags, params: IdParams, response: { 200: ConsumerView, ...ProblemResponses } } }, async (req) =>
    consumerView(await app.store.consumers.get(req.params.id)));

  app.patch('/:id', { schema: { tags, params: IdParams, body: ConsumerPatch, response: { 200: ConsumerView, ...ProblemResponses } } }, async (req) =>
    consumerView(await app.store.consumers.rename(req.params.id, req.body.name)));

  app.delete('/:id', { schema: { tags, params: IdParams, response: { 204: NoContent, ...ProblemResponses } } }, async (req, reply) => {
    await app.store.consumers.delete(req.params.id);
    return reply.code(204).send(null);
  });

  const keyTags = ['keys'];
  app.post('/:id/keys', { schema: { tags: keyTags, params: IdParams, body: KeyCreate, response: { 201: KeyCreated, ...ProblemResponses } } }, async (req, reply) => {
    const now = nowSeconds();
    const expiresAt = req.body.expiresAt === undefined ? null : unixOf(req.body.expiresAt);
    if (expiresAt !== null && expiresAt <= now) throw new ProblemError(422, 'Invalid expiry', 'expiresAt: must be in the future');
    const material = newApiKey();
    const key = await app.store.keys.create({ consumerId: req.params.id, planId: req.body.planId, digest: material.digest, prefix: material.prefix, expiresAt });
    return reply.code(201).send({ ...keyView(key, now), key: material.key });
  });

  app.get('/:id/keys', { schema: { tags: keyTags, params: IdParams, querystring: PageQuery, response: { 200: PageOf(KeyView), ...ProblemResponses } } }, async (req) => {
    const now = nowSeconds();
    return pageView(await app.store.keys.listForConsumer(req.params.id, pageRequest(req.query)), (k) => keyView(k, now));
  });
}
