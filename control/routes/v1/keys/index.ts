import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { IdParams, ProblemResponses } from '../../../schemas/common.js';
import { KeyCreated, KeyRotate, KeyView } from '../../../schemas/keys.js';
import { newApiKey } from '../../../key-material.js';
import { keyView } from '../views.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export default async function keyRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['keys'];

  app.get('/:id', { schema: { tags, params: IdParams, response: { 200: KeyView, ...ProblemResponses } } }, async (req) =>
    keyView(await app.store.keys.get(req.params.id), nowSeconds()));

  app.post('/:id/revoke', { schema: { tags, params: IdParams, response: { 200: KeyView, ...ProblemResponses } } }, async (req) => {
    const now = nowSeconds();
    return keyView(await app.store.keys.revoke(req.params.id, now), now);
  });

  app.post('/:id/rotate', { schema: { tags, params: IdParams, body: KeyRotate, response: { 201: KeyCreated, ...ProblemResponses } } }, async (req, reply) => {
    const now = nowSeconds();
    const material = newApiKey();
    const successor = await app.store.keys.rotate(req.params.id, { digest: material.digest, prefix: material.prefix }, now + req.body.gracePeriodSeconds);
    return reply.code(201).send({ ...keyView(successor, now), key: material.key });
  });
}
