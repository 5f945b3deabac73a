// GET /v1/usage/export (docs/usage-export.md): the query, and the 200 body as OpenAPI describes it (a stream of CSV or
// NDJSON; not serialised by the schema).
import { Type } from '@sinclair/typebox';
import { Strict, Timestamp } from './common.js';

export const UsageExportQuery = Type.Object({
  from: { ...Timestamp, description: 'start (inclusive), ISO-8601 UTC, at a period boundary of the granularity' },
  to: { ...Timestamp, description: 'end (exclusive), ISO-8601 UTC, at a period boundary of the granularity' },
  granularity: Type.Union([Type.Literal('hour'), Type.Literal('day'), Type.Literal('month')], { default: 'day', description: 'UTC calendar periods' }),
  groupBy: Type.Optional(Type.String({ maxLength: 64, description: 'comma-separated: consumer, plan, api, operation (columns and order are always in that order)' })),
  format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], { default: 'csv' }),
  cursor: Type.Optional(Type.String({ maxLength: 4096, description: 'resume after the row that carried this cursor' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'at most this many rows in this response (default: all)' })),
}, Strict);

export const UsageExportBody = Type.String({
  description: 'text/csv (header row, CRLF) or application/x-ndjson (one object per row, then a trailer {"end":true,"rows":n,"next":cursor|null}); see docs/usage-export.md',
});
