// Entry of the bundled service (dist/control.js): `node dist/control.js [options]` = `tollgate control [options]`.
import { run } from './cli.js';

process.exitCode = await run(process.argv.slice(2));
