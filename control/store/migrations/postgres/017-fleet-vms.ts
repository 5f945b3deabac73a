// PostgreSQL's version 17, as SQLite's 017-fleet-vms: fleet_proxies keyed by (target, node, reporter, vm), vm '' for
// rows stored before.
import type { Migration } from '../index.js';

export const fleetVms: Migration = {
  version: 17,
  name: 'fleet-vms',
  sql: `
ALTER TABLE fleet_proxies ADD COLUMN vm TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE fleet_proxies DROP CONSTRAINT fleet_proxies_pkey;
ALTER TABLE fleet_proxies ADD PRIMARY KEY (target_id, node, reporter, vm);
`,
};
