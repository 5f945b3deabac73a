import type { Migration } from './index.js';

// Version 14: resource kinds per target (issue 14; docs/deploy.md). `resource_kind` says what the target's
// configuration ships as — WasmPlugin (every target stored before, unchanged), TrafficExtension or
// EnvoyExtensionPolicy — and `image_pull_secret` names a registry Secret for the filter image (NULL: none).
export const resourceKinds: Migration = {
  version: 14,
  name: 'resource-kinds',
  sql: `
ALTER TABLE targets ADD COLUMN resource_kind TEXT NOT NULL DEFAULT 'WasmPlugin' CHECK (resource_kind IN ('WasmPlugin', 'TrafficExtension', 'EnvoyExtensionPolicy'));
ALTER TABLE targets ADD COLUMN image_pull_secret TEXT;
`,
};
