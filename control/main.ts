// Entry of the bundled service (dist/control.js): `node dist/control.js [options]` = `tollgate control [options]`.
import { isMainThread } from 'node:worker_threads';
import { run } from './cli.js';

// The bundle is also the entry of its OpenAPI parse workers (control/openapi/parse-pool.ts): there, only that part runs.
if (isMainThread) process.exitCode = await run(process.argv.slice(2));
