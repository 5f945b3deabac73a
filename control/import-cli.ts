// `tollgate import <file>`: send an OpenAPI document to a running control service (POST /v1/apis:import) and print
// what it changed (docs/control.md "Importing OpenAPI"). Exit 0 when imported (or the dry run passed), 1 when the
// service refused it (each problem printed with its JSON pointer) or could not be reached, 2 for a usage error.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const USAGE = `usage: tollgate import <file> [--api ID] [--name N] [--path-prefix P] [--dry-run] [--json] [--url URL] [--token T]

Imports an OpenAPI 3.0 or 3.1 document (JSON or YAML) as an API with operations, or updates the API imported before.

  --api ID           update this API (default: the API with the document's name, else a new one)
  --name N           the API's name (default: info.title)
  --path-prefix P    the base path (default: the path of servers[0].url, '/' without one)
  --dry-run          show the changes without storing anything
  --json             print the service's reply as JSON instead of a summary
  --url URL          the control service (default: TOLLGATE_URL, else http://127.0.0.1:<TOLLGATE_CONTROL_PORT or 7070>)
  --token T          admin token (default: TOLLGATE_ADMIN_TOKEN, the first one if it lists several)`;

interface Op { id: string; method: string; path: string; operationId: string | null; cost: number; visibility: string }
interface Reply {
  dryRun: boolean;
  api: { id: string; name: string; pathPrefix: string; operationCount: number };
  diff: {
    api: 'created' | 'updated' | 'unchanged';
    changes: Record<string, { before: unknown; after: unknown }>;
    operations: { added: Op[]; changed: { id: string; key: string; before: Record<string, unknown>; after: Record<string, unknown> }[]; removed: Op[]; moved: number; unchanged: number };
  };
}
interface Problem { status?: number; detail?: string; errors?: { pointer?: string; path?: string; message: string }[] }

/** By the file's extension, else by its first character (a JSON document is an object). */
function contentType(file: string, text: string): string {
  if (/\.json$/i.test(file)) return 'application/json';
  if (/\.ya?ml$/i.test(file)) return 'application/yaml';
  return text.trimStart().startsWith('{') ? 'application/json' : 'application/yaml';
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

function summary(r: Reply): string {
  const d = r.diff;
  const lines = [`${r.dryRun ? 'would be ' : ''}${d.api === 'created' ? 'created' : d.api === 'updated' ? 'updated' : 'unchanged:'} API ${r.api.id} ${JSON.stringify(r.api.name)} at ${r.api.pathPrefix}`];
  for (const [field, c] of Object.entries(d.changes)) if (d.api !== 'created') lines.push(`  ${field}: ${show(c.before)} → ${show(c.after)}`);
  const label = (o: Op): string => `${o.method} ${o.path}${o.operationId !== null ? `  (${o.operationId})` : ''}`;
  for (const o of d.operations.added) lines.push(`  + ${label(o)}${o.cost !== 1 ? `  cost ${o.cost}` : ''}${o.visibility !== 'public' ? `  ${o.visibility}` : ''}`);
  for (const c of d.operations.changed) {
    lines.push(`  ~ ${c.key}: ${Object.keys(c.after).map((f) => `${f} ${show(c.before[f])} → ${show(c.after[f])}`).join(', ')}`);
  }
  for (const o of d.operations.removed) lines.push(`  - ${label(o)}`);
  const n = d.operations;
  lines.push(`${n.added.length} added, ${n.changed.length} changed, ${n.removed.length} removed, ${n.moved} moved, ${n.unchanged} unchanged; ${r.api.operationCount} operations`);
  if (r.dryRun) lines.push('dry run: nothing was stored');
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        api: { type: 'string' }, name: { type: 'string' }, 'path-prefix': { type: 'string' }, 'dry-run': { type: 'boolean' },
        json: { type: 'boolean' }, url: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`tollgate import: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`tollgate import: name one OpenAPI document\n\n${USAGE}`);
    return 2;
  }
  const file = positionals[0]!;
  const token = values.token ?? process.env.TOLLGATE_ADMIN_TOKEN?.split(',')[0]?.trim();
  if (token === undefined || token === '') {
    console.error('tollgate import: no admin token: pass --token or set TOLLGATE_ADMIN_TOKEN');
    return 2;
  }
  const base = values.url ?? process.env.TOLLGATE_URL ?? `http://127.0.0.1:${process.env.TOLLGATE_CONTROL_PORT ?? '7070'}`;
  let url: URL;
  try {
    url = new URL('/v1/apis:import', base);
  } catch {
    console.error(`tollgate import: not a URL: ${base}`);
    return 2;
  }
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch (err) {
    console.error(`tollgate import: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return 2;
  }
  if (values.api !== undefined) url.searchParams.set('apiId', values.api);
  if (values.name !== undefined) url.searchParams.set('name', values.name);
  if (values['path-prefix'] !== undefined) url.searchParams.set('pathPrefix', values['path-prefix']);
  if (values['dry-run'] === true) url.searchParams.set('dryRun', 'true');

  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType(file, body.subarray(0, 64).toString('utf8')) }, body });
  } catch (err) {
    console.error(`tollgate import: cannot reach the control service at ${url.origin}: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`);
    return 1;
  }
  const text = await res.text();
  if (res.ok) {
    const reply = JSON.parse(text) as Reply;
    console.log(values.json === true ? JSON.stringify(reply, null, 2) : summary(reply));
    return 0;
  }
  let problem: Problem = {};
  try {
    problem = JSON.parse(text) as Problem;
  } catch {
    problem = { detail: text.slice(0, 500) };
  }
  console.error(`tollgate import: ${file} refused (HTTP ${res.status}): ${problem.detail ?? res.statusText}`);
  for (const e of problem.errors ?? []) console.error(`  ${e.pointer ?? e.path ?? ''}: ${e.message}`);
  return 1;
}
