// `tollgate discover`: ask a running control service what service discovery would do (--dry-run: GET
// /v1/discovery/plan, one list of the managed namespaces when discovery is not running) or what it did last (GET
// /v1/discovery), printed as a table. Exit 0 on an answer (1 with --dry-run when a Service has an error), 1 when the
// service refused or could not be reached, 2 for a usage error.
import { parseArgs } from 'node:util';
import { resolveConnection, UsageError, type Connection } from '../../cli/admin/config.js';

const USAGE = `usage: tollgate discover [--dry-run] [--json] [--url URL] [--token T]

Service discovery (docs/discovery.md): Services annotated tollgate.dev/expose: "true" in the managed namespaces
become APIs.

  --dry-run   list what discovery would create, update, retire or skip now; nothing is written
  --json      print the service's reply as JSON instead of a table
  --url URL   the control service (else TOLLGATE_URL, the config file, http://127.0.0.1:<TOLLGATE_CONTROL_PORT or 7070>)
  --token T   admin token (else TOLLGATE_TOKEN, TOLLGATE_ADMIN_TOKEN — the first if it lists several —, the config file)
  --config F  config file (else TOLLGATE_CONFIG, ~/.config/tollgate/config.json), as for the other admin commands`;

export interface Row { namespace: string; service: string; action: string; apiId: string | null; apiName: string | null; detail: string; error: boolean }

/** Rows as a fixed-width table (the detail column last, unpadded). */
export function table(rows: Row[]): string {
  const head = ['NAMESPACE', 'SERVICE', 'ACTION', 'API', 'DETAIL'];
  const cells = rows.map((r) => [r.namespace, r.service, r.error ? `${r.action}!` : r.action, r.apiId ?? r.apiName ?? '-', r.detail]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...cells.map(line)].join('\n');
}

function counts(rows: Row[]): string {
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.action, (by.get(r.action) ?? 0) + 1);
  const errors = rows.filter((r) => r.error).length;
  return `${[...by].map(([a, n]) => `${n} ${a}`).join(', ') || 'no annotated Services'}${errors > 0 ? `; ${errors} with errors (marked !)` : ''}`;
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv, strict: true,
      options: {
        'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, url: { type: 'string' }, token: { type: 'string' }, config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    console.error(`tollgate discover: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  // The URL and token come from where the other admin commands take them (cli/admin/config.ts, docs/cli.md).
  let conn: Connection;
  try {
    conn = resolveConnection({ url: values.url, token: values.token, config: values.config }, process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`tollgate discover: ${err.message}`);
    return 2;
  }
  const dry = values['dry-run'] === true;
  let url: URL;
  try {
    // Appended, not resolved: a service under a path (https://host/tollgate) keeps it.
    url = new URL(`${conn.url}${dry ? '/v1/discovery/plan' : '/v1/discovery'}`);
  } catch {
    console.error(`tollgate discover: not a URL: ${conn.url}`);
    return 2;
  }
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${conn.token}` } });
  } catch (err) {
    console.error(`tollgate discover: cannot reach the control service at ${url.origin}: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`);
    return 1;
  }
  const text = await res.text();
  if (!res.ok) {
    let detail = text.slice(0, 500);
    try {
      detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
    } catch { /* not JSON: the text itself */ }
    console.error(`tollgate discover: HTTP ${res.status}: ${detail}`);
    return 1;
  }
  if (values.json === true) {
    console.log(JSON.stringify(JSON.parse(text), null, 2));
    return 0;
  }
  if (dry) {
    const reply = JSON.parse(text) as { source: string; namespaces: string[]; items: Row[] };
    console.log(table(reply.items));
    console.log(`dry run over ${reply.namespaces.join(', ')} (${reply.source === 'watch' ? "the running discovery's view" : 'one list of each namespace'}): ${counts(reply.items)}; nothing was written`);
    return reply.items.some((r) => r.error) ? 1 : 0;
  }
  const s = JSON.parse(text) as { enabled: boolean; leader: boolean; synced: boolean; lastSyncAt: string | null; lastSyncError: string | null; services: Row[]; namespaces: { namespace: string; lastError: string | null }[] };
  if (!s.enabled) {
    console.log('discovery is off (TOLLGATE_DISCOVERY=true turns it on); `tollgate discover --dry-run` shows what it would do');
    return 0;
  }
  console.log(table(s.services));
  console.log(`${s.leader ? 'leader' : 'standby replica (another one applies)'}, ${s.synced ? 'synced' : 'not synced yet'}, last sync ${s.lastSyncAt ?? 'never'}${s.lastSyncError !== null ? ` (failed: ${s.lastSyncError})` : ''}`);
  for (const n of s.namespaces) if (n.lastError !== null) console.log(`namespace ${n.namespace}: ${n.lastError}`);
  return 0;
}
