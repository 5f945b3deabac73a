// PostgreSQL's version 14, as SQLite's 014-resource-kinds: targets.resource_kind ('WasmPlugin' for every target
// stored before) and targets.image_pull_secret.
import type { Migration } from '../index.js';

export const resourceKinds: Migration = {
  version: 14,
  name: 'resource-kinds',
  sql: `
ALTER TABLE targets ADD COLUMN resource_kind TEXT NOT NULL DEFAULT 'WasmPlugin' CHECK (resource_kind IN ('WasmPlugin', 'TrafficExtension', 'EnvoyExtensionPolicy'));
ALTER TABLE targets ADD COLUMN image_pull_secret TEXT;
`,
};
