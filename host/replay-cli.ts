// `tollgate replay`: runs recorded requests (JSONL) through a filter on the Envoy-like host and prints one JSON line
// per request plus a final metrics line. Format: docs/host.md.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigRejectedError, type DownstreamRequest, type UpstreamRequest } from './api.js';
import { createHost } from './plugin-host.js';
import { readReplayConfig } from './replay-config.js';

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

function parseCluster(spec: string): [string, { host: string; port: number }] {
  const m = /^([^=]+)=(.+):(\d+)$/.exec(spec);
  if (m === null) throw new Error(`bad --cluster '${spec}' (want NAME=HOST:PORT)`);
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
  const plugin = readReplayConfig(readFileSync(values.config, 'utf8'));
  const host = createHost({
    workers: values.workers === undefined ? 2 : Number(values.workers),
    clusters: Object.fromEntries((values.cluster ?? []).map(parseCluster)),
    ...(values['start-ms'] !== undefined ? { startTimeMs: Number(values['start-ms']) } : {}),
    onLog: (r) => {
      if (r.level === 'warn' || r.level === 'error' || r.level === 'critical') process.stderr.write(`[wasm ${r.vm}] ${r.level}: ${r.message}\n`);
    },
  });
  try {
    await host.load({
      name: 'replay',
      rootId: values['root-id'] ?? plugin.rootId ?? 'tollgate',
      vmId: values['vm-id'] ?? 'tollgate',
      wasm: readFileSync(values.wasm),
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
  const lines = readFileSync(positionals[0]!, 'utf8').split('\n').filter((l) => l.trim() !== '');
  try {
    for (const [n, line] of lines.entries()) {
      let input: ReplayLine;
      try {
        input = JSON.parse(line) as ReplayLine;
      } catch {
        console.error(`replay: line ${n + 1} is not JSON`);
        return 2;
      }
      if (input.advanceMs !== undefined) await host.advance(input.advanceMs);
      let seen: UpstreamRequest | undefined;
      const req: DownstreamRequest = {
        method: input.method ?? 'GET',
        path: input.path ?? '/',
        ...(input.headers !== undefined ? { headers: input.headers } : {}),
        ...(input.body !== undefined ? { body: input.body } : {}),
        // A recording made with more workers still replays: the worker index wraps around.
        ...(input.worker !== undefined ? { worker: Math.abs(Math.trunc(input.worker)) % host.workers } : {}),
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
