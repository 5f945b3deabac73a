// Runs only the filter bench (bench/filter.ts) and prints its rows: `node --import tsx bench/filter-only.mjs`.
// Build first (`npm run build:filter`). Not a .ts file, so bench/run.ts does not pick it up as a part.
const { run } = await import('./filter.ts');
for (const row of await run()) console.log(JSON.stringify(row));
