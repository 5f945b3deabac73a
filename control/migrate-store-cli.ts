// `tollgate migrate-store --from <sqlite file> --to <postgres url>`: move an existing SQLite store into PostgreSQL
// (docs/deploy.md, "Migrating a SQLite store"). The URL may come from TOLLGATE_DB_FILE-style indirection: --to-file.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isPostgresUrl, redactDbUrl, scrubDbSecrets } from './store/db-url.js';
import { migrateStore, MigrateStoreError, TABLES } from './store/migrate-store.js';

const HELP = `usage: tollgate migrate-store --from <sqlite file> (--to <postgres url> | --to-file <file holding it>)

Copies every table of a SQLite store into a new PostgreSQL database in one transaction (nothing is written when
anything fails). The database must be empty; its schema is created. Stop the service on the SQLite file first.
The URL's password is never printed; prefer --to-file (or the TOLLGATE_DB environment variable) to keep it off
command lines.`;

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { from: { type: 'string' }, to: { type: 'string' }, 'to-file': { type: 'string' }, help: { type: 'boolean' } }, strict: true }));
  } catch (err) {
    console.error(`tollgate migrate-store: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  const to = values['to-file'] !== undefined ? readFileSync(values['to-file'], 'utf8').trim() : values.to ?? process.env.TOLLGATE_DB;
  if (values.from === undefined || to === undefined || !isPostgresUrl(to)) {
    console.error(`tollgate migrate-store: --from and a postgres:// target are required\n\n${HELP}`);
    return 2;
  }
  try {
    const result = await migrateStore(values.from, to);
    console.log(`tollgate migrate-store: copied ${TABLES.map((t) => `${t} ${result.rows[t] ?? 0}`).join(', ')} into ${redactDbUrl(to)}`);
    return 0;
  } catch (err) {
    const message = scrubDbSecrets(err instanceof Error ? err.message : String(err), to);
    console.error(`tollgate migrate-store: ${message}`);
    return err instanceof MigrateStoreError ? 2 : 1;
  }
}
