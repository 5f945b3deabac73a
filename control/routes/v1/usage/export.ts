// GET /v1/usage/export: billing-grade usage, streamed (docs/usage-export.md). Parameters are checked whole before the
// first byte (problem+json); then rows are pulled from the store a page at a time as the client reads.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ProblemResponses } from '../../../schemas/common.js';
import { UsageExportBody, UsageExportQuery } from '../../../schemas/usage-export.js';
import { ProblemError } from '../../../errors.js';
import { unixOf } from '../views.js';
import type { ExportDimension } from '../../../store/repository.js';
import {
  csvLine, csvRecord, decodeCursor, exportColumns, isAligned, ndjsonRecord, ndjsonTrailer, parseGroupBy, type ExportCursor, type ExportFormat, type ExportGranularity, type ExportRecord,
} from '../../../usage/export.js';
import { exportRecords } from '../../../usage/export-reader.js';

const CONTENT_TYPE: Record<ExportFormat, string> = { csv: 'text/csv; charset=utf-8; header=present', ndjson: 'application/x-ndjson; charset=utf-8' };

const invalid = (detail: string): ProblemError => new ProblemError(400, 'Invalid request', detail);

export default async function usageExportRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('', {
    schema: {
      tags: ['usage'], summary: 'Billing export: usage per UTC period and group, streamed as CSV or NDJSON, with resumable cursors',
      querystring: UsageExportQuery, produces: ['text/csv', 'application/x-ndjson'],
      response: { 200: UsageExportBody, ...ProblemResponses },
    },
  }, async (req, reply) => {
    const q = req.query;
    const g = q.granularity as ExportGranularity;
    const from = unixOf(q.from);
    const to = unixOf(q.to);
    if (Number.isNaN(from) || Number.isNaN(to)) throw invalid('from/to: not a valid time');
    if (!Number.isInteger(from) || !isAligned(g, from)) throw invalid(`from: not at the start of a UTC ${g}`);
    if (!Number.isInteger(to) || !isAligned(g, to)) throw invalid(`to: not at the start of a UTC ${g}`);
    if (from >= to) throw invalid('from: must be before to');
    const groupBy = parseGroupBy(q.groupBy);
    if (typeof groupBy === 'string') throw invalid(groupBy);
    let after: ExportCursor | null = null;
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor, { granularity: g, groupBy });
      if (typeof c === 'string') throw invalid(c);
      if (c.period < from || c.period >= to) throw invalid('cursor: outside [from, to)');
      after = c;
    }
    const format = q.format as ExportFormat;
    const pages = exportRecords(app.store.usage, { from, to, granularity: g, groupBy, after, now: Math.floor(Date.now() / 1000) });
    // The 200 schema documents the body; a stream is not serialised, so the typed reply is widened for it.
    const raw = reply as unknown as FastifyReply;
    raw.header('content-type', CONTENT_TYPE[format]).header('cache-control', 'no-store');
    return raw.send(Readable.from(body(pages, format, groupBy, q.limit), { objectMode: false }));
  });
}

/** The response text, a store page per chunk; with `limit`, stops there and names the next page's cursor if any. */
async function* body(pages: AsyncGenerator<ExportRecord[]>, format: ExportFormat, groupBy: readonly ExportDimension[], limit: number | undefined): AsyncGenerator<string> {
  if (format === 'csv') yield csvLine(exportColumns(groupBy));
  let rows = 0;
  let next: string | null = null;
  let last = '';
  outer: for await (const page of pages) {
    let chunk = '';
    for (const r of page) {
      if (limit !== undefined && rows === limit) {
        next = last;
        if (chunk !== '') yield chunk;
        break outer;
      }
      chunk += format === 'csv' ? csvRecord(r) : ndjsonRecord(groupBy, r);
      last = r.cursor;
      rows++;
    }
    yield chunk;
  }
  if (format === 'ndjson') yield ndjsonTrailer(rows, next);
}
