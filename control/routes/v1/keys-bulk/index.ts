// Keys in bulk (docs/control.md, "Keys in bulk"): importing existing key digests from another gateway as NDJSON, and
// creating many keys at once. Both append to the key feed like single writes (one revision per key). Also moving a
// key to another plan (PATCH /v1/keys/{id}), the one key write that changes which targets' scopes hold the key.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Readable } from 'node:stream';
import { IdParams, ProblemResponses } from '../../../schemas/common.js';
import { KeyView } from '../../../schemas/keys.js';
import { BulkCreateBody, BulkCreated, ImportReply, KeyPatch } from '../../../schemas/keyfeed.js';
import { IMPORT_CHUNK, MAX_IMPORT_LINE_BYTES, forEachLine, parseImportLine } from '../../../keyfeed/import-line.js';
import { newApiKey } from '../../../key-material.js';
import { NotFoundError, ProblemError } from '../../../errors.js';
import type { ImportKey } from '../../../store/repository.js';
import { keyView, unixOf } from '../views.js';

/** Rejected lines listed in an import's reply (all are counted). */
export const MAX_LISTED_ERRORS = 1000;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export default async function keysBulkRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['keys'];

  // The body reaches the handler as the request stream: it is read line by line, never whole (a million lines is
  // ~200 MB), so the 1 MiB body limit of JSON bodies does not apply here.
  app.addContentTypeParser('application/x-ndjson', (_req, payload, done) => done(null, payload));

  app.post('/keys::import', {
    schema: {
      tags, consumes: ['application/x-ndjson'],
      description: 'One JSON object per line: {"digest", "consumerId", "planId", "id"?, "expiresAt"?, "prefix"?}. Idempotent.',
      response: { 200: ImportReply, ...ProblemResponses },
    },
  }, async (req) => {
    if (req.body === undefined || req.body === null || typeof (req.body as Readable).pipe !== 'function') {
      throw new ProblemError(415, 'Unsupported Media Type', 'the body must be application/x-ndjson');
    }
    const reply = { lines: 0, created: 0, unchanged: 0, rejected: 0, errors: [] as { line: number; detail: string }[] };
    const reject = (line: number, detail: string): void => {
      reply.rejected++;
      if (reply.errors.length < MAX_LISTED_ERRORS) reply.errors.push({ line, detail });
    };
    let batch: { key: ImportKey; line: number }[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const outcomes = await app.store.keyFeed.importKeys(batch.map((b) => b.key), nowSeconds());
      outcomes.forEach((o, i) => {
        if ('created' in o) reply.created++;
        else if ('unchanged' in o) reply.unchanged++;
        else reject(batch[i]!.line, o.error);
      });
      batch = [];
    };
    reply.lines = await forEachLine(req.body as Readable, async (text, n) => {
      if (text.trim() === '') return;
      const parsed = parseImportLine(text);
      if ('error' in parsed) reject(n, parsed.error);
      else batch.push({ key: parsed, line: n });
      if (batch.length >= IMPORT_CHUNK) await flush();
    }, (n) => reject(n, `longer than ${MAX_IMPORT_LINE_BYTES} bytes`));
    await flush();
    // Lines refused by the store are known only when their chunk is written: list every refusal in line order.
    reply.errors.sort((x, y) => x.line - y.line);
    return reply;
  });

  app.post('/keys::bulkCreate', {
    schema: { tags, body: BulkCreateBody, response: { 201: BulkCreated, ...ProblemResponses } },
  }, async (req, reply) => {
    const b = req.body;
    const expiresAt = b.expiresAt === undefined || b.expiresAt === null ? null : unixOf(b.expiresAt);
    const made = Array.from({ length: b.count }, () => newApiKey());
    const outcomes = await app.store.keyFeed.importKeys(
      made.map((m) => ({ digest: m.digest, consumerId: b.consumerId, planId: b.planId, expiresAt, prefix: m.prefix })), nowSeconds());
    const failed = outcomes.find((o) => 'error' in o);
    if (failed !== undefined) {
      // Every key shares the consumer and plan, so one reason fails them all (a digest collision cannot happen).
      const why = (failed as { error: string }).error;
      if (why.startsWith('consumerId')) throw new NotFoundError('consumer', b.consumerId);
      throw new ProblemError(422, 'Unknown reference', why);
    }
    return reply.code(201).send({ keys: outcomes.map((o, i) => ({ id: (o as { created: string }).created, prefix: made[i]!.prefix, key: made[i]!.key })) });
  });

  app.patch('/keys/:id', { schema: { tags, params: IdParams, body: KeyPatch, response: { 200: KeyView, ...ProblemResponses } } }, async (req) =>
    keyView(await app.store.keys.changePlan(req.params.id, req.body.planId), nowSeconds()));
}
