// POST /v1/apis:import (docs/control.md "Importing OpenAPI"). Its own plugin: it takes the body as bytes in JSON and
// YAML media types (the rest of the API parses JSON itself), with a larger body limit. The work is control/openapi/.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { DocumentProblem, ImportQuery, ImportReply } from '../../../schemas/apis.js';
import { Problem, ProblemResponses } from '../../../schemas/common.js';
import { InvalidFieldError, ProblemError } from '../../../errors.js';
import { pathPrefixProblem } from '../../../path-prefix.js';
import { statusPhrase } from '../../../plugins/app/error-handler.js';
import { DocumentRefusedError, DocumentSyntaxError, JSON_TYPES, syntaxOf, YAML_TYPES } from '../../../openapi/document.js';
import { importOpenApi } from '../../../openapi/import.js';
import { readModel } from '../../../openapi/read.js';
import { ParsePool, ParsePoolBusyError, WORKER_THRESHOLD_BYTES } from '../../../openapi/parse-pool.js';
import { apiView } from '../views.js';

/**
 * Largest document taken. Reading one costs ~0.65 s per MB of YAML and ~0.15 s per MB of JSON (docs/control.md,
 * "Importing OpenAPI"): documents over WORKER_THRESHOLD_BYTES are read in a worker thread (at most PARSE_WORKERS at
 * once), smaller ones on the event loop.
 */
export const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;
/** Large documents read at once (one worker each); one more while all are busy → 503 with Retry-After. */
export const PARSE_WORKERS = 2;
/** Seconds a refused large import is asked to wait. */
const BUSY_RETRY_AFTER_S = 5;

export default async function importRoute(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  // This plugin's own parsers (encapsulated: the other routes keep theirs): the body stays bytes, hashed as sent and
  // parsed by control/openapi/document.ts, so a JSON syntax error is the same 400 as a YAML one.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser([...JSON_TYPES, ...YAML_TYPES], { parseAs: 'buffer', bodyLimit: MAX_DOCUMENT_BYTES }, (_req, body, done) => done(null, body));
  const pool = new ParsePool(PARSE_WORKERS);
  fastify.addHook('onClose', async () => pool.close());
  const read: typeof readModel = (body, syntax, options) => (body.length > WORKER_THRESHOLD_BYTES ? pool.read(body, syntax, options) : readModel(body, syntax, options));

  app.post('::import', {
    bodyLimit: MAX_DOCUMENT_BYTES,
    schema: {
      tags: ['apis'],
      summary: 'Create or update an API from an OpenAPI 3.0 or 3.1 document (JSON or YAML)',
      description: 'Re-imports update in place: ?apiId= targets that API, else the API with the same name, else a new one is '
        + 'created. Operation ids stay stable by operationId, else by "METHOD template". ?dryRun=true stores nothing and '
        + 'returns the diff. A body that is not JSON/YAML → 400; a document that is not OpenAPI 3.0/3.1 or breaks an '
        + `import rule → 422 with errors[].pointer (JSON pointers into the document). At most ${MAX_DOCUMENT_BYTES} bytes.`,
      consumes: [...JSON_TYPES, ...YAML_TYPES],
      querystring: ImportQuery,
      // Documents the body for the OpenAPI document (any JSON/YAML value passes here: control/openapi/ checks it).
      body: Type.Unknown({ description: 'an OpenAPI 3.0 or 3.1 document' }),
      response: { 200: ImportReply, 201: ImportReply, ...ProblemResponses, 422: DocumentProblem, 503: Problem },
    },
  }, async (req, reply) => {
    const syntax = syntaxOf(req.headers['content-type']);
    if (syntax === undefined || !Buffer.isBuffer(req.body)) {
      throw new ProblemError(415, 'Unsupported Media Type', `the body must be an OpenAPI document as ${[...JSON_TYPES, ...YAML_TYPES].join(', ')}`);
    }
    const q = req.query;
    if (q.pathPrefix !== undefined) {
      const problem = pathPrefixProblem(q.pathPrefix);
      if (problem !== null) throw new InvalidFieldError('querystring/pathPrefix', problem);
    }
    try {
      const result = await importOpenApi(app.store.apis, {
        body: req.body, syntax, dryRun: q.dryRun,
        ...(q.apiId !== undefined ? { apiId: q.apiId } : {}),
        ...(q.name !== undefined ? { name: q.name } : {}),
        ...(q.pathPrefix !== undefined ? { pathPrefix: q.pathPrefix } : {}),
      }, undefined, read);
      return reply.code(result.created && !result.dryRun ? 201 : 200).send({
        dryRun: result.dryRun, api: apiView(result.api), operations: result.operations, diff: result.diff,
      });
    } catch (err) {
      if (err instanceof DocumentSyntaxError) throw new ProblemError(400, 'Bad Request', err.message);
      if (err instanceof ParsePoolBusyError) {
        // Not the shared 503 (that one says the database is unreachable): the service is busy reading documents.
        return reply.code(503).header('retry-after', String(BUSY_RETRY_AFTER_S)).type('application/problem+json').serializer(JSON.stringify).send({
          type: 'about:blank', title: statusPhrase(503), status: 503, instance: req.url.split('?')[0],
          detail: `${err.message} (at most ${PARSE_WORKERS} documents over ${WORKER_THRESHOLD_BYTES / 1024} KiB at once); retry in ${BUSY_RETRY_AFTER_S} s`,
        });
      }
      if (!(err instanceof DocumentRefusedError)) throw err;
      // The shared error handler lists request fields as `path`; these name places in the document, so `pointer`.
      return reply.code(422).type('application/problem+json').serializer(JSON.stringify).send({
        type: 'about:blank', title: statusPhrase(422), status: 422, detail: err.message, instance: req.url.split('?')[0], errors: err.problems,
      });
    }
  });
}
