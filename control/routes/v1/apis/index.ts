import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiCreate, ApiPatch, ApiView, OperationView } from '../../../schemas/apis.js';
import { IdParams, NoContent, PageOf, PageQuery, ProblemResponses } from '../../../schemas/common.js';
import { pageRequest } from '../../../pagination.js';
import { pathPrefixProblem } from '../../../path-prefix.js';
import { ConflictError, InvalidFieldError } from '../../../errors.js';
import { liesUnder } from '../../../compiler/compile.js';
import { MAX_OPERATIONS_PER_API } from '../../../../contracts/filter-config.js';
import type { ApiRepository } from '../../../store/repository.js';
import { apiView, pageView } from '../views.js';
import importRoute from './import.js';

/** Refuses a prefix the filter could never match (control/path-prefix.ts), naming the field like schema errors do. */
function checkPathPrefix(prefix: string | undefined): void {
  const problem = prefix === undefined ? null : pathPrefixProblem(prefix);
  if (problem !== null) throw new InvalidFieldError('body/pathPrefix', problem);
}

/**
 * An imported API's operations must stay reachable (the filter refuses a configuration holding one that is not): a
 * patch may not move the prefix off them nor drop the methods they use. 409 naming one that would be cut off.
 */
async function checkOperationsKept(apis: ApiRepository, id: string, patch: { pathPrefix?: string; methods?: string[] }): Promise<void> {
  const methods = patch.methods ?? [];
  if (patch.pathPrefix === undefined && methods.length === 0) return;
  const { items } = await apis.operations(id, { limit: MAX_OPERATIONS_PER_API, after: undefined });
  const offPrefix = patch.pathPrefix === undefined ? undefined : items.find((o) => !liesUnder(o.path, patch.pathPrefix!));
  if (offPrefix !== undefined) {
    throw new ConflictError(`api '${id}' has operations outside '${patch.pathPrefix}' (${offPrefix.method} ${offPrefix.path}): re-import its document with ?apiId=${id}&pathPrefix= to move it`);
  }
  const offMethods = methods.length === 0 ? undefined : items.find((o) => !methods.includes(o.method));
  if (offMethods !== undefined) {
    throw new ConflictError(`api '${id}' has ${offMethods.method} operations (${offMethods.path}): methods must include every operation's method`);
  }
}

export default async function apiRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['apis'];

  app.post('', { schema: { tags, body: ApiCreate, response: { 201: ApiView, ...ProblemResponses } } }, async (req, reply) => {
    checkPathPrefix(req.body.pathPrefix);
    const api = await app.store.apis.create({ name: req.body.name, pathPrefix: req.body.pathPrefix, hosts: req.body.hosts ?? [], methods: req.body.methods ?? [] });
    return reply.code(201).send(apiView(api));
  });

  app.get('', { schema: { tags, querystring: PageQuery, response: { 200: PageOf(ApiView), ...ProblemResponses } } }, async (req) =>
    pageView(await app.store.apis.list(pageRequest(req.query)), apiView));

  app.get('/:id', { schema: { tags, params: IdParams, response: { 200: ApiView, ...ProblemResponses } } }, async (req) =>
    apiView(await app.store.apis.get(req.params.id)));

  app.patch('/:id', { schema: { tags, params: IdParams, body: ApiPatch, response: { 200: ApiView, ...ProblemResponses } } }, async (req) => {
    checkPathPrefix(req.body.pathPrefix);
    await checkOperationsKept(app.store.apis, req.params.id, req.body);
    return apiView(await app.store.apis.update(req.params.id, req.body));
  });

  // Bounded like every list: an API has up to 4,096 operations (the API's view carries only their count).
  app.get('/:id/operations', { schema: { tags, params: IdParams, querystring: PageQuery, response: { 200: PageOf(OperationView), ...ProblemResponses } } }, async (req) =>
    pageView(await app.store.apis.operations(req.params.id, pageRequest(req.query)), (o) => o));

  app.delete('/:id', { schema: { tags, params: IdParams, response: { 204: NoContent, ...ProblemResponses } } }, async (req, reply) => {
    await app.store.apis.delete(req.params.id);
    return reply.code(204).send(null);
  });

  await app.register(importRoute);
}
