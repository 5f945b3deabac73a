import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ProblemResponses, Problem } from '../../../schemas/common.js';
import { UsageQuery, UsageReply, UsageReportBody, UsageView } from '../../../schemas/usage.js';
import { ProblemError } from '../../../errors.js';
import type { UsageReport } from '../../../store/types.js';
import { iso, unixOf } from '../views.js';
import { scopeOf } from '../../../reporter-credentials.js';
import { impossibleReport } from '../../../usage/report-rules.js';
import { isHeartbeat } from '../../../fleet/heartbeat.js';
import usageExportRoutes from './export.js';
import usageTopRoutes from './top.js';

/** docs/usage-report.md: a report body is at most 4 MiB. */
export const REPORT_BODY_LIMIT = 4 * 1024 * 1024;
const DEFAULT_RANGE: Record<'minute' | 'hour' | 'day', number> = { minute: 3600, hour: 86_400, day: 30 * 86_400 };
const BUCKET_SECONDS: Record<'minute' | 'hour' | 'day', number> = { minute: 60, hour: 3600, day: 86_400 };
/** At most this many series points per query, so one request cannot make the service build a huge reply. */
export const MAX_SERIES_POINTS = 10_000;

/**
 * The report schema says "units only on allowed entries" as an if/then whose `then` is a `not`, which Ajv words as
 * "must NOT be valid" at the entry: name the field and the rule instead (in the detail and in `errors`), and drop the
 * `if` error that only repeats it. Other errors read as fastify's default formatter words them.
 */
export function reportErrorFormatter(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const kept: FastifySchemaValidationError[] = [];
  for (const e of errors) {
    if (e.keyword === 'if' && errors.some((n) => n.keyword === 'not' && n.instancePath === e.instancePath)) continue;
    if (e.keyword === 'not' && /\/entries\/items\/then\/not$/.test(e.schemaPath)) {
      // The schema's one rule for both fields (if not allowed then neither units nor wouldReject); the formatter does
      // not see the body, so the message names both.
      e.message = 'only allowed entries carry units or wouldReject';
    }
    kept.push(e);
  }
  // The error handler lists `validation` (this same array) in `errors`: keep it to what the detail says.
  errors.splice(0, errors.length, ...kept);
  return new Error(kept.map((e) => `${dataVar}${e.instancePath} ${e.message ?? e.keyword}`).join(', '));
}

export default async function usageRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['usage'];
  await fastify.register(usageExportRoutes, { prefix: '/export' });
  await fastify.register(usageTopRoutes, { prefix: '/top' });

  app.get('', { schema: { tags, querystring: UsageQuery, response: { 200: UsageView, ...ProblemResponses } } }, async (req) => {
    const q = req.query;
    const to = q.to === undefined ? Math.floor(Date.now() / 1000) + 1 : unixOf(q.to);
    const from = q.from === undefined ? to - DEFAULT_RANGE[q.granularity] : unixOf(q.from);
    if (Number.isNaN(from) || Number.isNaN(to)) throw new ProblemError(400, 'Invalid request', 'from/to: not a valid time');
    if (from >= to) throw new ProblemError(400, 'Invalid request', 'from: must be before to');
    if ((to - from) / BUCKET_SECONDS[q.granularity] > MAX_SERIES_POINTS) {
      throw new ProblemError(400, 'Invalid request', `from/to: more than ${MAX_SERIES_POINTS} ${q.granularity} buckets; narrow the range or use a coarser granularity`);
    }
    const summary = await app.usage.query({ keyId: q.keyId, consumerId: q.consumerId, apiId: q.apiId, from, to, granularity: q.granularity });
    return { totals: summary.totals, upstreamStatus: summary.upstreamStatus, series: summary.series.map((p) => ({ ...p, start: iso(p.start) })) };
  });

  // The filter's endpoint: a target's reporter credential, the public usage-report schema as the body schema (unknown
  // fields → 400). A report no correct filter could send → 422 (the filter drops it); entries outside the target's
  // scope or time range are refused one by one (`refused` in the reply) and the rest is stored.
  app.post('/reports', {
    bodyLimit: REPORT_BODY_LIMIT,
    config: { auth: 'report' },
    schemaErrorFormatter: reportErrorFormatter,
    schema: {
      tags, security: [{ report: [] }], body: UsageReportBody,
      response: { 200: UsageReply, 400: Problem, 401: Problem, 413: Problem, 422: Problem },
    },
  }, async (req) => {
    const report = req.body as UsageReport;
    const impossible = impossibleReport(report);
    if (impossible !== undefined) {
      app.metrics.batches.inc({ result: 'refused' });
      throw new ProblemError(422, 'Unprocessable Content', impossible);
    }
    const target = req.reporterTarget!;
    if (isHeartbeat(report)) {
      await app.fleet.record(target.id, report.reporter, report.proxy!);
      app.metrics.batches.inc({ result: 'heartbeat' });
      return { version: 2, batchId: report.batchId, duplicate: false, fleet: [], refused: 0 };
    }
    const result = await app.usage.ingest(report, scopeOf(target), Math.floor(Date.now() / 1000));
    app.metrics.batches.inc({ result: result.duplicate ? 'duplicate' : 'stored' });
    // Fleet status (a duplicate batch re-records it: harmless). Its failure must not fail the stored report.
    if (report.proxy !== undefined) {
      await app.fleet.record(target.id, report.reporter, report.proxy).catch((err: unknown) => req.log.warn({ err, target: target.id }, 'recording the proxy status failed'));
    }
    if (!result.duplicate) {
      app.metrics.entries.inc(result.entries);
      if (result.dropped > 0) app.metrics.dropped.inc(result.dropped);
      if (result.wouldReject > 0) app.metrics.wouldReject.inc(result.wouldReject);
      if (result.refused > 0) {
        app.metrics.refused.inc(result.refused);
        req.log.warn({ target: target.id, reporter: report.reporter, refused: result.refused }, 'usage entries outside the reporter\'s scope or time range refused');
      }
    }
    return {
      version: 2, batchId: report.batchId, duplicate: result.duplicate, fleet: result.fleet, refused: result.refused,
      ...(result.creditSpend.length > 0 ? { creditSpend: result.creditSpend } : {}),
    };
  });
}
