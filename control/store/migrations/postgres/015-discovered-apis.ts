// PostgreSQL's version 15, as SQLite's 015-discovered-apis: which APIs service discovery made, keyed by Service uid.
import type { Migration } from '../index.js';

const T = 'TEXT COLLATE "C"';

export const discoveredApis: Migration = {
  version: 15,
  name: 'discovered-apis',
  sql: `
CREATE TABLE discovered_apis (
  service_uid ${T} PRIMARY KEY,
  namespace ${T} NOT NULL,
  service_name ${T} NOT NULL,
  api_id ${T},
  api_name ${T} NOT NULL UNIQUE,
  managed INTEGER NOT NULL DEFAULT 1 CHECK (managed IN (0, 1)),
  state ${T} NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retired')),
  desired_hash ${T} NOT NULL DEFAULT '',
  api_fingerprint ${T} NOT NULL DEFAULT '',
  updated_at BIGINT NOT NULL
);
`,
};
