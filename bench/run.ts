// `npm run bench`: runs every part's benchmark (bench/<part>.ts exporting `run(): Promise<BenchRow[]>`), prints one
// table and writes bench/results.json ({ "<metric>": value, ... } plus a "goals" section). Never a timed test:
// ratios are measured side by side within one run.
import { readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { BenchRow } from './row.js';
import { prepareBench } from './prepare.js';

const here = dirname(fileURLToPath(import.meta.url));
// A fresh clone has no build/: build what the parts read before any of them runs.
await prepareBench(join(here, '..'));
const parts = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'row.ts', 'prepare.ts'].includes(f) && !f.endsWith('.d.ts'))
  .sort();

const rows: BenchRow[] = [];
for (const file of parts) {
  const mod = (await import(join(here, file))) as { run?: () => Promise<BenchRow[]> };
  if (typeof mod.run !== 'function') continue;
  console.error(`bench: ${file} …`);
  rows.push(...(await mod.run()));
}

const results: Record<string, unknown> = {};
const goals: Record<string, { goal: string; met: boolean }> = {};
for (const r of rows) {
  results[r.name] = r.value;
  if (r.goal !== undefined && r.met !== undefined) goals[r.name] = { goal: r.goal, met: r.met };
}
results.goals = goals;
results.measuredAt = new Date().toISOString();
writeFileSync(join(here, 'results.json'), JSON.stringify(results, null, 2) + '\n');

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(4));
const table = rows.map((r) => [r.name, fmt(r.value), r.unit, r.goal ?? '', r.met === undefined ? '' : r.met ? 'met' : 'NOT MET']);
const head = ['metric', 'value', 'unit', 'goal', ''];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table) console.log(line(row));
console.log(`\nwrote bench/results.json (${rows.length} metrics)`);
