// Runs only the PostgreSQL control bench (bench/control-pg.ts) and prints its rows: `node --import tsx bench/pg-only.mjs`.
// Not a .ts file, so bench/run.ts does not pick it up as a part.
const { run } = await import('./control-pg.ts');
for (const row of await run()) console.log(JSON.stringify(row));
