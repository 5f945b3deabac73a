// PostgreSQL's version 8, as SQLite's 008-api-operations: API operations and where an API was imported from.
import type { Migration } from '../index.js';

const T = 'TEXT COLLATE "C"';

export const apiOperations: Migration = {
  version: 8,
  name: 'api-operations',
  sql: `
ALTER TABLE apis ADD COLUMN unknown_operation ${T} NOT NULL DEFAULT 'reject' CHECK (unknown_operation IN ('reject', 'pass'));
ALTER TABLE apis ADD COLUMN import_title ${T};
ALTER TABLE apis ADD COLUMN import_version ${T};
ALTER TABLE apis ADD COLUMN import_sha256 ${T};
CREATE TABLE api_operations (
  id ${T} PRIMARY KEY,
  api_id ${T} NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
  op_key ${T} NOT NULL,
  operation_id ${T},
  method ${T} NOT NULL,
  path ${T} NOT NULL,
  cost BIGINT NOT NULL DEFAULT 1 CHECK (cost >= 0),
  visibility ${T} NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'internal')),
  summary ${T},
  position INTEGER NOT NULL,
  UNIQUE (api_id, op_key)
);
CREATE INDEX api_operations_api ON api_operations(api_id, id);
`,
};
