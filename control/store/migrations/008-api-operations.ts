import type { Migration } from './index.js';

// Version 8: API operations (issue 13; docs/control.md "Importing OpenAPI"). An API imported from an OpenAPI document
// carries its operations (method + path template, the base path applied, in the filter's normalized form).
// - apis.unknown_operation: what a request matching none of them gets ('reject' by default, or 'pass'); without
//   operations it does not apply, so existing APIs behave as before.
// - apis.import_title / import_version / import_sha256: the document the API was last imported from (NULL for an
//   API made by hand).
// - api_operations.op_key: what keeps an operation's id across re-imports (its operationId, else "METHOD template"
//   with the template as the document spells it, before the base path); unique per API.
export const apiOperations: Migration = {
  version: 8,
  name: 'api-operations',
  sql: `
ALTER TABLE apis ADD COLUMN unknown_operation TEXT NOT NULL DEFAULT 'reject' CHECK (unknown_operation IN ('reject', 'pass'));
ALTER TABLE apis ADD COLUMN import_title TEXT;
ALTER TABLE apis ADD COLUMN import_version TEXT;
ALTER TABLE apis ADD COLUMN import_sha256 TEXT;
CREATE TABLE api_operations (
  id TEXT PRIMARY KEY,
  api_id TEXT NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
  op_key TEXT NOT NULL,
  operation_id TEXT,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  cost INTEGER NOT NULL DEFAULT 1 CHECK (cost >= 0),
  visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'internal')),
  summary TEXT,
  position INTEGER NOT NULL,
  UNIQUE (api_id, op_key)
);
CREATE INDEX api_operations_api ON api_operations(api_id, id);
`,
};
