// PostgreSQL's schema migrations: the same versions as SQLite's (../index.ts), each version the same schema step in
// PostgreSQL's SQL. Applied by store/postgres/migrate.ts under an advisory lock, recorded in schema_migrations.
import type { Migration } from '../index.js';
import { initial } from './001-initial.js';
import { statusClasses } from './002-status-classes.js';
import { targetsAndSubscriptions } from './003-targets-and-subscriptions.js';
import { asyncRollups } from './004-async-rollups.js';
import { batchRollups } from './005-batch-rollups.js';
import { keyFeed } from './006-key-feed.js';
import { batchLog } from './007-batch-log.js';
import { apiOperations } from './008-api-operations.js';
import { usageUnits } from './009-usage-units.js';
import { composedLimits } from './010-composed-limits.js';
import { scopedFleet } from './011-scoped-fleet.js';
import { creditBalances } from './012-credit-balances.js';
import { fleetStatus } from './013-fleet-status.js';
import { resourceKinds } from './014-resource-kinds.js';
import { discoveredApis } from './015-discovered-apis.js';
import { usageBilling } from './016-usage-billing.js';
import { fleetVms } from './017-fleet-vms.js';

export const POSTGRES_MIGRATIONS: Migration[] = [initial, statusClasses, targetsAndSubscriptions, asyncRollups, batchRollups, keyFeed, batchLog, apiOperations, usageUnits, composedLimits, scopedFleet, creditBalances, fleetStatus, resourceKinds, discoveredApis, usageBilling, fleetVms];
