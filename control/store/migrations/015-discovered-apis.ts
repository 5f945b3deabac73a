import type { Migration } from './index.js';

// Version 15: service discovery (issue 14; docs/discovery.md). One row per Kubernetes Service that discovery made an
// API for, keyed by the Service's uid (a Service deleted and made again is a new uid). Ownership lives here, not on
// the API: an API without a row was made by a person and discovery never touches it.
// - api_id: the API it made (NULL between claiming the name and creating the API: a crash there is finished later);
// - api_name: the name it gave that API (unique: two Services never claim one name);
// - managed: 0 once a person edited or deleted the API (discovery then leaves it alone unless told to adopt);
// - state: 'retired' when the Service went away or lost its annotation but a plan still lists the API;
// - desired_hash: what discovery last applied (annotations and document digest), so a replay writes nothing;
// - api_fingerprint: the API as discovery left it; another fingerprint later means a person edited it.
export const discoveredApis: Migration = {
  version: 15,
  name: 'discovered-apis',
  sql: `
CREATE TABLE discovered_apis (
  service_uid TEXT PRIMARY KEY,
  namespace TEXT NOT NULL,
  service_name TEXT NOT NULL,
  api_id TEXT,
  api_name TEXT NOT NULL UNIQUE,
  managed INTEGER NOT NULL DEFAULT 1 CHECK (managed IN (0, 1)),
  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retired')),
  desired_hash TEXT NOT NULL DEFAULT '',
  api_fingerprint TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL
);
`,
};
