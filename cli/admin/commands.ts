// The admin CLI's commands (docs/cli.md): `tollgate apis|plans|consumers|keys|usage|completion …`, one yargs tree.
// Each handler calls the REST API and prints: data to stdout (a table, or JSON with --output json), notes to stderr.
// `keys create` and `keys rotate` print the plaintext key to stdout and nothing else there, so it can be piped.
import type { Argv } from 'yargs';
import { PERIODS } from '../../contracts/filter-config.js';
import { call, listAll, streamTo } from './client.js';
import { resolveConnection, UsageError, type Connection } from './config.js';
import { fields, table, type Cell } from './output.js';

export type Output = 'table' | 'json';
interface Global { url?: string; token?: string; config?: string; output: Output }
type Args<T = object> = Global & T;
// yargs' inferred argument types do not survive nested builders; handlers state what they read instead.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Y = Argv<any>;

const out = (s: string): void => { process.stdout.write(s); };
const note = (s: string): void => { process.stderr.write(`${s}\n`); };
const json = (v: unknown): void => out(`${JSON.stringify(v, null, 2)}\n`);
const connect = (a: Args): Connection => resolveConnection({ url: a.url, token: a.token, config: a.config }, process.env);
const seg = (id: string): string => encodeURIComponent(id);

/** Runs a handler; errors propagate to index.ts, which turns them into exit codes. */
const handle = <T>(fn: (a: Args<T>) => Promise<void>) => (a: unknown): Promise<void> => fn(a as Args<T>);

interface Api { id: string; name: string; pathPrefix: string; hosts: string[]; methods: string[]; operationCount: number; createdAt: string }
interface Plan { id: string; name: string; limits: { requests: number; per: string; id?: string; apiId?: string; operationId?: string; shadow?: boolean }[]; apiIds: string[]; shadow: boolean }
interface Consumer { id: string; name: string; createdAt: string }
interface Key { id: string; consumerId: string; planId: string; prefix: string; status: string; createdAt: string; expiresAt: string | null; revokedAt: string | null; replacedBy: string | null }
type Counts = { allowed: number; rejectedQuota: number; rejectedAuth: number; rejectedForbidden: number; units: number; wouldReject: number };
interface Usage { totals: Counts; series: (Counts & { start: string })[] }

const limitText = (l: Plan['limits'][number]): string =>
  `${l.requests}/${l.per}${l.apiId !== undefined ? ` on ${l.apiId}${l.operationId !== undefined ? `/${l.operationId}` : ''}` : ''}${l.shadow === true ? ' (shadow)' : ''}`;

/** "1000/day", "50/minute@api_1", "5/second@api_1/op_2" → a plan limit. */
export function parseLimit(text: string): Plan['limits'][number] {
  const m = /^(\d+)\/([a-z]+)(?:@([A-Za-z0-9._:-]+)(?:\/([A-Za-z0-9._:-]+))?)?$/.exec(text);
  if (m === null || !(PERIODS as readonly string[]).includes(m[2]!) || Number(m[1]) < 1) {
    throw new UsageError(`--limit ${text}: expected <requests>/<${PERIODS.join('|')}>[@<apiId>[/<operationId>]], e.g. 1000/day`);
  }
  return { requests: Number(m[1]), per: m[2]!, ...(m[3] !== undefined ? { apiId: m[3] } : {}), ...(m[4] !== undefined ? { operationId: m[4] } : {}) };
}

function printList<T>(a: Args, items: T[], columns: string[], row: (x: T) => Cell[]): void {
  if (a.output === 'json') json(items);
  else out(table(columns, items.map(row)));
}

const idArg = (what: string) => (y: Y): Y => y.positional('id', { type: 'string', describe: `the ${what}'s id`, demandOption: true });

function apis(y: Y): Y {
  return y
    .command('list', 'list APIs', {}, handle(async (a) => {
      printList(a, await listAll<Api>(connect(a), '/v1/apis'), ['id', 'name', 'path prefix', 'hosts', 'operations'],
        (x) => [x.id, x.name, x.pathPrefix, x.hosts.join(',') || '*', x.operationCount]);
    }))
    .command('get <id>', 'show an API', idArg('API'), handle<{ id: string }>(async (a) => {
      const api = await call<Api>(connect(a), 'GET', `/v1/apis/${seg(a.id)}`);
      if (a.output === 'json') json(api); else out(fields({ ...api }));
    }))
    .command('create', 'create an API', (c: Y) => c
      .option('name', { type: 'string', demandOption: true, describe: 'unique name' })
      .option('path-prefix', { type: 'string', demandOption: true, describe: 'requests under this path belong to the API' })
      .option('host', { type: 'string', array: true, describe: 'a host it answers on (repeat; default any)' })
      .option('method', { type: 'string', array: true, describe: 'an allowed method (repeat; default any)' }),
    handle<{ name: string; pathPrefix: string; host?: string[]; method?: string[] }>(async (a) => {
      const api = await call<Api>(connect(a), 'POST', '/v1/apis', {
        name: a.name, pathPrefix: a.pathPrefix, ...(a.host !== undefined ? { hosts: a.host } : {}), ...(a.method !== undefined ? { methods: a.method } : {}),
      });
      if (a.output === 'json') json(api); else { out(`${api.id}\n`); note(`created API ${api.id} ${JSON.stringify(api.name)} at ${api.pathPrefix}`); }
    }))
    .command('delete <id>', 'delete an API (refused while a plan includes it)', idArg('API'), handle<{ id: string }>(async (a) => {
      await call(connect(a), 'DELETE', `/v1/apis/${seg(a.id)}`);
      if (a.output === 'json') json({ deleted: a.id }); else note(`deleted API ${a.id}`);
    }))
    .demandCommand(1, 'name a subcommand: list, get, create or delete');
}

function plans(y: Y): Y {
  return y
    .command('list', 'list plans', {}, handle(async (a) => {
      printList(a, await listAll<Plan>(connect(a), '/v1/plans'), ['id', 'name', 'limits', 'apis', 'shadow'],
        (p) => [p.id, p.name, p.limits.map(limitText).join(', ') || '-', p.apiIds.join(',') || '-', p.shadow]);
    }))
    .command('get <id>', 'show a plan', idArg('plan'), handle<{ id: string }>(async (a) => {
      const plan = await call<Plan>(connect(a), 'GET', `/v1/plans/${seg(a.id)}`);
      if (a.output === 'json') json(plan); else out(fields({ ...plan, limits: plan.limits.map(limitText) }));
    }))
    .command('create', 'create a plan', (c: Y) => c
      .option('name', { type: 'string', demandOption: true, describe: 'unique name' })
      .option('limit', { type: 'string', array: true, default: [], describe: `<requests>/<${PERIODS.join('|')}>[@apiId[/operationId]] (repeat)` })
      .option('api', { type: 'string', array: true, default: [], describe: 'an API the plan includes (repeat)' })
      .option('shadow', { type: 'boolean', describe: 'count, never enforce' }),
    handle<{ name: string; limit: string[]; api: string[]; shadow?: boolean }>(async (a) => {
      const limits = a.limit.map(parseLimit);
      const plan = await call<Plan>(connect(a), 'POST', '/v1/plans', { name: a.name, limits, apiIds: a.api, ...(a.shadow !== undefined ? { shadow: a.shadow } : {}) });
      if (a.output === 'json') json(plan); else { out(`${plan.id}\n`); note(`created plan ${plan.id} ${JSON.stringify(plan.name)}`); }
    }))
    .command('delete <id>', 'delete a plan (refused while keys use it)', idArg('plan'), handle<{ id: string }>(async (a) => {
      await call(connect(a), 'DELETE', `/v1/plans/${seg(a.id)}`);
      if (a.output === 'json') json({ deleted: a.id }); else note(`deleted plan ${a.id}`);
    }))
    .demandCommand(1, 'name a subcommand: list, get, create or delete');
}

function consumers(y: Y): Y {
  return y
    .command('list', 'list consumers', {}, handle(async (a) => {
      printList(a, await listAll<Consumer>(connect(a), '/v1/consumers'), ['id', 'name', 'created'], (c) => [c.id, c.name, c.createdAt]);
    }))
    .command('get <id>', 'show a consumer', idArg('consumer'), handle<{ id: string }>(async (a) => {
      const c = await call<Consumer>(connect(a), 'GET', `/v1/consumers/${seg(a.id)}`);
      if (a.output === 'json') json(c); else out(fields({ ...c }));
    }))
    .command('create', 'create a consumer', (c: Y) => c.option('name', { type: 'string', demandOption: true, describe: 'unique name' }),
      handle<{ name: string }>(async (a) => {
        const c = await call<Consumer>(connect(a), 'POST', '/v1/consumers', { name: a.name });
        if (a.output === 'json') json(c); else { out(`${c.id}\n`); note(`created consumer ${c.id} ${JSON.stringify(c.name)}`); }
      }))
    .command('delete <id>', 'delete a consumer and its keys', idArg('consumer'), handle<{ id: string }>(async (a) => {
      await call(connect(a), 'DELETE', `/v1/consumers/${seg(a.id)}`);
      if (a.output === 'json') json({ deleted: a.id }); else note(`deleted consumer ${a.id}`);
    }))
    .demandCommand(1, 'name a subcommand: list, get, create or delete');
}

/** The plaintext key goes to stdout alone (or inside the JSON reply); what it is, to stderr. */
function printNewKey(a: Args, k: Key & { key: string }, what: string): void {
  if (a.output === 'json') { json(k); return; }
  out(`${k.key}\n`);
  note(`${what} key ${k.id} (prefix ${k.prefix}) for consumer ${k.consumerId} on plan ${k.planId}${k.expiresAt !== null ? `, expires ${k.expiresAt}` : ''}.`);
  note('The key above is shown once and never stored: keep it now.');
}

function keys(y: Y): Y {
  return y
    .command('create', 'create a key; prints it once, to stdout', (c: Y) => c
      .option('consumer', { type: 'string', demandOption: true, describe: 'the consumer it belongs to' })
      .option('plan', { type: 'string', demandOption: true, describe: 'the plan it spends' })
      .option('expires-at', { type: 'string', describe: 'ISO-8601 UTC expiry (default never)' }),
    handle<{ consumer: string; plan: string; expiresAt?: string }>(async (a) => {
      const k = await call<Key & { key: string }>(connect(a), 'POST', `/v1/consumers/${seg(a.consumer)}/keys`, {
        planId: a.plan, ...(a.expiresAt !== undefined ? { expiresAt: a.expiresAt } : {}),
      });
      printNewKey(a, k, 'created');
    }))
    .command('list', 'list a consumer\'s keys (prefixes only)', (c: Y) => c.option('consumer', { type: 'string', demandOption: true, describe: 'whose keys' }),
      handle<{ consumer: string }>(async (a) => {
        printList(a, await listAll<Key>(connect(a), `/v1/consumers/${seg(a.consumer)}/keys`), ['id', 'prefix', 'plan', 'status', 'created', 'expires'],
          (k) => [k.id, k.prefix, k.planId, k.status, k.createdAt, k.expiresAt]);
      }))
    .command('revoke <id>', 'revoke a key (fleet-wide within about a second)', idArg('key'), handle<{ id: string }>(async (a) => {
      const k = await call<Key>(connect(a), 'POST', `/v1/keys/${seg(a.id)}/revoke`);
      if (a.output === 'json') json(k); else note(`revoked key ${k.id} (prefix ${k.prefix})`);
    }))
    .command('rotate <id>', 'replace a key with a new one; prints the new key once, to stdout', (c: Y) => idArg('key')(c)
      .option('grace-period', { type: 'number', default: 0, describe: 'seconds the old key keeps working' }),
    handle<{ id: string; gracePeriod: number }>(async (a) => {
      if (!Number.isInteger(a.gracePeriod) || a.gracePeriod < 0) throw new UsageError('--grace-period: a whole number of seconds');
      const k = await call<Key & { key: string }>(connect(a), 'POST', `/v1/keys/${seg(a.id)}/rotate`, { gracePeriodSeconds: a.gracePeriod });
      printNewKey(a, k, `rotated ${a.id} into`);
    }))
    .demandCommand(1, 'name a subcommand: create, list, revoke or rotate');
}

const query = (params: Record<string, string | number | undefined>): string =>
  Object.entries(params).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');

function usage(y: Y): Y {
  return y
    .option('consumer', { type: 'string', describe: 'only this consumer' })
    .option('key', { type: 'string', describe: 'only this key' })
    .option('api', { type: 'string', describe: 'only this API' })
    .option('from', { type: 'string', describe: 'ISO-8601 UTC start (default: one range of the granularity back)' })
    .option('to', { type: 'string', describe: 'ISO-8601 UTC end (default: now)' })
    .option('granularity', { choices: ['minute', 'hour', 'day'], default: 'hour' })
    .command('export', 'billing export: CSV or NDJSON per UTC period and group, streamed to stdout', (c: Y) => c
      .option('from', { type: 'string', demandOption: true, describe: 'ISO-8601 UTC, at a period boundary' })
      .option('to', { type: 'string', demandOption: true, describe: 'ISO-8601 UTC, at a period boundary (exclusive)' })
      .option('granularity', { choices: ['hour', 'day', 'month'], default: 'day' })
      .option('group-by', { type: 'string', describe: 'comma-separated: consumer, plan, api, operation' })
      .option('format', { choices: ['csv', 'ndjson'], describe: 'default csv; ndjson with --output json' })
      .option('cursor', { type: 'string', describe: 'resume after the row that carried this cursor' })
      .option('limit', { type: 'number', describe: 'at most this many rows' }),
    handle<{ from: string; to: string; granularity: string; groupBy?: string; format?: string; cursor?: string; limit?: number }>(async (a) => {
      const format = a.format ?? (a.output === 'json' ? 'ndjson' : 'csv');
      await streamTo(connect(a), `/v1/usage/export?${query({ from: a.from, to: a.to, granularity: a.granularity, groupBy: a.groupBy, format, cursor: a.cursor, limit: a.limit })}`, process.stdout);
    }));
}

async function usageSummary(a: Args<{ consumer?: string; key?: string; api?: string; from?: string; to?: string; granularity: string }>): Promise<void> {
  const u = await call<Usage>(connect(a), 'GET', `/v1/usage?${query({ consumerId: a.consumer, keyId: a.key, apiId: a.api, from: a.from, to: a.to, granularity: a.granularity })}`);
  if (a.output === 'json') { json(u); return; }
  const row = (label: string, c: Counts): Cell[] => [label, c.allowed, c.units, c.rejectedQuota, c.rejectedAuth, c.rejectedForbidden, c.wouldReject];
  out(table(['start', 'allowed', 'units', 'rejected quota', 'rejected auth', 'rejected forbidden', 'would reject'],
    [...u.series.map((p) => row(p.start, p)), row('total', u.totals)]));
}

/** The admin commands on a yargs instance (index.ts adds the global options, completion and error handling). */
export function adminCommands(y: Y): Y {
  return y
    .command('apis', 'manage APIs: list, get, create, delete', apis)
    .command('plans', 'manage plans: list, get, create, delete', plans)
    .command('consumers', 'manage consumers: list, get, create, delete', consumers)
    .command('keys', 'manage keys: create, list, revoke, rotate', keys)
    .command('usage', 'usage totals and series (GET /v1/usage); `usage export` for billing', usage, handle(usageSummary));
}
