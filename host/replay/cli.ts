// `tollgate replay`: runs recorded requests (JSONL) through a filter on the Envoy-like host and prints one JSON line
// per request plus a final metrics line. Format: docs/host.md.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigRejectedError, type DownstreamRequest, type UpstreamRequest } from '../contract.js';
import { createHost } from '../runtime/plugin-host.js';
import { readReplayConfig } from './config.js';
import { WasmPluginError } from '../../contracts/wasmplugin.js';

const USAGE = `usage: tollgate replay --wasm FILE --config FILE [options] requests.jsonl

  --wasm FILE          the filter module (.wasm)
  --config FILE        pluginConfig as JSON, or a WasmPlugin YAML (spec.pluginConfig is used)
  --workers N          worker VMs (default 2)
  --vm-id ID           vm_id (default "tollgate")
  --root-id ID         root_id (default: the WasmPlugin's pluginName, else "tollgate")
  --cluster NAME=HOST:PORT  a cluster for proxy_http_call (repeatable)
  --start-ms MS        virtual clock start, ms since epoch (default: now)

Each input line: {"method","path","headers"?,"body"?,"worker"?,"advanceMs"?,"authority"?}
Each output line: {"status","localReply","headers","body","upstream":{"headers","path"}|null,"hostCalls","worker"}
Last line: {"metrics":{name: value}}`;

interface ReplayLine {
  method?: string;
  path?: string;
  headers?: Record<string, string> | Array<[string, string]>;
  body?: string;
  worker?: number;
  advanceMs?: number;
  authority?: string;
}

class UsageError extends Error {}

function readInput(what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

function intOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPairList = (v: unknown): v is Array<[string, string]> =>
  Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');

/** One input line, checked field by field so a bad recording is a clear error (exit 2), never a crash. */
export function parseReplayLine(line: string, n: number): ReplayLine {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch {
    throw new UsageError(`line ${n}: not JSON`);
  }
  if (!isRecord(input)) throw new UsageError(`line ${n}: expected a JSON object`);
  for (const key of ['method', 'path', 'body', 'authority'] as const) {
    if (input[key] !== undefined && typeof input[key] !== 'string') throw new UsageError(`line ${n}: "${key}" must be a string`);
  }
  const headers = input.headers;
  if (headers !== undefined && !isPairList(headers) && !(isRecord(headers) && Object.values(headers).every((v) => typeof v === 'string'))) {
    throw new UsageError(`line ${n}: "headers" must be an object of strings or a list of [name, value] pairs`);
  }
  if (input.worker !== undefined && !(Number.isSafeInteger(input.worker) && (input.worker as number) >= 0)) {
    throw new UsageError(`line ${n}: "worker" must be an integer ≥ 0`);
  }
  if (input.advanceMs !== undefined && !(typeof input.advanceMs === 'number' && Number.isFinite(input.advanceMs) && input.advanceMs >= 0)) {
    throw new UsageError(`line ${n}: "advanceMs" must be a number ≥ 0`);
  }
  return input as ReplayLine;
}

function readConfig(text: string): ReturnType<typeof readReplayConfig> {
  try {
    return readReplayConfig(text);
  } catch (err) {
    if (err instanceof WasmPluginError) throw new UsageError(`--config: ${err.message}`);
    throw new UsageError(`--config is neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

function parseCluster(spec: string): [string, { host: string; port: number }] {
  const m = /^([^=]+)=(.+):(\d+)$/.exec(spec);
  if (m === null) throw new UsageError(`bad --cluster '${spec}' (want NAME=HOST:PORT)`);
  return [m[1]!, { host: m[2]!, port: Number(m[3]) }];
}

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        wasm: { type: 'string' },
        config: { type: 'string' },
        workers: { type: 'string' },
        'vm-id': { type: 'string' },
        'root-id': { type: 'string' },
        cluster: { type: 'string', multiple: true },
        'start-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`replay: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.wasm === undefined || values.config === undefined || positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  let setup;
  try {
    setup = {
      workers: intOption('workers', values.workers, 1) ?? 2,
      startMs: intOption('start-ms', values['start-ms'], 0),
      clusters: Object.fromEntries((values.cluster ?? []).map(parseCluster)),
      wasm: readInput('--wasm', values.wasm),
      plugin: readConfig(readInput('--config', values.config).toString('utf8')),
      // Every line is checked before anything runs, so a bad recording prints no partial output.
      lines: readInput('requests', positionals[0]!).toString('utf8').split('\n')
        .map((line, n) => ({ line, n: n + 1 })).filter(({ line }) => line.trim() !== '')
        .map(({ line, n }) => parseReplayLine(line, n)),
    };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`replay: ${err.message}`);
    return 2;
  }
  const { plugin } = setup;
  const host = createHost({
    workers: setup.workers,
    clusters: setup.clusters,
    ...(setup.startMs !== undefined ? { startTimeMs: setup.startMs } : {}),
    onLog: (r) => {
      if (r.level === 'warn' || r.level === 'error' || r.level === 'critical') process.stderr.write(`[wasm ${r.vm}] ${r.level}: ${r.message}\n`);
    },
  });
  try {
    await host.load({
      name: 'replay',
      rootId: values['root-id'] ?? plugin.rootId ?? 'tollgate',
      vmId: values['vm-id'] ?? 'tollgate',
      wasm: setup.wasm,
      pluginConfig: plugin.pluginConfig,
      ...(plugin.failStrategy ? { failStrategy: plugin.failStrategy } : {}),
    });
  } catch (err) {
    await host.close();
    if (err instanceof ConfigRejectedError) {
      console.error(`replay: configuration rejected: ${err.message}`);
      for (const l of err.logs) console.error(`  [wasm ${l.vm}] ${l.level}: ${l.message}`);
      return 1;
    }
    throw err;
  }
  try {
    for (const input of setup.lines) {
      if (input.advanceMs !== undefined) await host.advance(input.advanceMs);
      let seen: UpstreamRequest | undefined;
      const req: DownstreamRequest = {
        method: input.method ?? 'GET',
        path: input.path ?? '/',
        ...(input.headers !== undefined ? { headers: input.headers } : {}),
        ...(input.body !== undefined ? { body: input.body } : {}),
        // A recording made with more workers still replays: the worker index wraps around.
        ...(input.worker !== undefined ? { worker: input.worker % host.workers } : {}),
        ...(input.authority !== undefined ? { authority: input.authority } : {}),
      };
      const result = await host.request(req, (u) => {
        seen = u;
        return { status: 200, headers: [] };
      });
      process.stdout.write(`${JSON.stringify({
        status: result.status,
        localReply: result.localReply,
        headers: result.localReply ? result.headers : [],
        body: result.localReply ? Buffer.from(result.body).toString('utf8') : '',
        upstream: seen === undefined ? null : { headers: seen.headers, path: seen.path },
        hostCalls: result.hostCalls,
        worker: result.worker,
      })}\n`);
    }
    await host.settle(2000);
    const metrics: Record<string, number | { sum: number; count: number }> = {};
    for (const m of host.metrics()) metrics[m.name] = m.type === 'histogram' ? { sum: m.value, count: m.count ?? 0 } : m.value;
    process.stdout.write(`${JSON.stringify({ metrics })}\n`);
    return 0;
  } finally {
    await host.close();
  }
}
