// `tollgate replay`: runs recorded requests (JSONL) through a filter on the Envoy-like host and prints one JSON line
// per request plus a final metrics line; with --policy, replays recorded traffic against the current and a candidate
// configuration and prints the decisions that differ plus totals (policy.ts, compare.ts, formats.ts). Format:
// docs/host.md.
import { accessSync, constants, createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ConfigRejectedError, type DownstreamRequest, type UpstreamRequest } from '../contract.js';
import { createHost } from '../runtime/plugin-host.js';
import { readReplayConfig } from './config.js';
import {
  checkReplayLine, DEFAULT_JSON_FIELDS, FormatError, INPUT_FORMATS, lineParser, parseKeysFile,
  type EnvoyJsonFields, type InputFormat, type KeyOwner, type RecordedRequest,
} from './formats.js';
import { isConfigObject, PolicyRejectedError, startPolicyReplay } from './policy.js';
import type { Threshold } from './compare.js';
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
Last line: {"metrics":{name: value}}

usage: tollgate replay --wasm FILE --config CURRENT --policy CANDIDATE [options] traffic-file

  --policy FILE        the candidate configuration (JSON or WasmPlugin YAML, like --config)
  --keys FILE          key id -> consumer, plan, expiry: a key-feed snapshot page, or JSONL of FeedKey tuples
                       (default: the configurations' static keys)
  --format F           jsonl (default) | envoy-text (Envoy's default access log format) | envoy-json
  --key-field N        envoy-text: the appended field holding the key id (default 1, the first after UPSTREAM_HOST)
  --json-field NAME=KEY  envoy-json: the key of method, path, authority, start_time or key_id (repeatable)
  --skip-bad           count and skip unreadable lines instead of failing
  --max-changed N      exit 1 when more than N requests change decision
  --max-changed-pct P  exit 1 when more than P percent of the requests change decision
  --output FILE        write the change lines and the summary there (stdout gets the summary only)
  --summary-only       no change lines, only the summary
  --workers, --vm-id, --root-id, --start-ms  as above, for both configurations

Each change line: {"line","keyId","consumer","method","path","current":{"status","reason"},"candidate":{…}}
Last line: {"summary":{"requests","changed","newlyDenied","newlyAllowed","changedPct","skippedLines",
  "consumers":{id:{"requests","changed","newlyDenied","newlyAllowed"}},"threshold","exceeded"}}
Exit 0 within the threshold, 1 over it (or a configuration the filter refuses), 2 on bad usage or input.`;

const POLICY_ONLY = ['keys', 'format', 'key-field', 'json-field', 'skip-bad', 'max-changed', 'max-changed-pct', 'output', 'summary-only'] as const;

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

/** One input line, checked field by field so a bad recording is a clear error (exit 2), never a crash. */
export function parseReplayLine(line: string, n: number): ReturnType<typeof checkReplayLine> {
  try {
    return checkReplayLine(line, n);
  } catch (err) {
    if (err instanceof FormatError) throw new UsageError(err.message);
    throw err;
  }
}

function readConfig(text: string, option = '--config'): ReturnType<typeof readReplayConfig> {
  try {
    return readReplayConfig(text);
  } catch (err) {
    if (err instanceof WasmPluginError) throw new UsageError(`${option}: ${err.message}`);
    throw new UsageError(`${option} is neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
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
        policy: { type: 'string' },
        keys: { type: 'string' },
        format: { type: 'string' },
        'key-field': { type: 'string' },
        'json-field': { type: 'string', multiple: true },
        'skip-bad': { type: 'boolean' },
        'max-changed': { type: 'string' },
        'max-changed-pct': { type: 'string' },
        output: { type: 'string' },
        'summary-only': { type: 'boolean' },
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
  if (values.policy !== undefined) return runPolicy(values as PolicyValues, positionals[0]!);
  const stray = POLICY_ONLY.find((name) => values[name] !== undefined);
  if (stray !== undefined) {
    console.error(`replay: --${stray} only applies with --policy`);
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

interface PolicyValues {
  wasm: string; config: string; policy: string; keys?: string; format?: string; 'key-field'?: string;
  'json-field'?: string[]; 'skip-bad'?: boolean; 'max-changed'?: string; 'max-changed-pct'?: string; output?: string;
  'summary-only'?: boolean; workers?: string; 'vm-id'?: string; 'root-id'?: string; 'start-ms'?: string; cluster?: string[];
}

/** The traffic file's non-blank lines with their 1-based numbers, streamed (a day of access log need not fit in memory). */
async function* trafficLines(file: string): AsyncGenerator<{ text: string; n: number }> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() !== '') yield { text, n };
  }
}

/** An unreadable traffic file is a usage error before anything runs (it is read twice, streamed, never whole). */
function checkTrafficFile(file: string): void {
  try {
    if (!statSync(file).isFile()) throw new Error('not a regular file (it is read twice)');
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw new UsageError(`cannot read traffic ${file}: ${(err as Error).message}`);
  }
}

function threshold(values: PolicyValues): Threshold | null {
  if (values['max-changed'] !== undefined && values['max-changed-pct'] !== undefined) {
    throw new UsageError('give --max-changed or --max-changed-pct, not both');
  }
  const max = intOption('max-changed', values['max-changed'], 0);
  if (max !== undefined) return { maxChanged: max };
  const pct = values['max-changed-pct'];
  if (pct === undefined) return null;
  const p = Number(pct);
  if (pct.trim() === '' || !Number.isFinite(p) || p < 0 || p > 100) throw new UsageError(`--max-changed-pct must be a number 0 … 100, got '${pct}'`);
  return { maxChangedPct: p };
}

function jsonFields(specs: string[] | undefined): EnvoyJsonFields {
  const fields: EnvoyJsonFields = { ...DEFAULT_JSON_FIELDS };
  for (const spec of specs ?? []) {
    const m = /^([a-z_]+)=(.+)$/.exec(spec);
    if (m === null || !(m[1]! in fields)) {
      throw new UsageError(`bad --json-field '${spec}' (want NAME=KEY, NAME one of ${Object.keys(fields).join(', ')})`);
    }
    fields[m[1] as keyof EnvoyJsonFields] = m[2]!;
  }
  return fields;
}

/** Writes honouring back-pressure (a long change list into a pipe or file). */
async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function runPolicy(values: PolicyValues, trafficFile: string): Promise<number> {
  let setup;
  try {
    if (values.cluster !== undefined) throw new UsageError('--cluster has no use with --policy (replay removes usage and keyFeed: no control service is called)');
    const format = (values.format ?? 'jsonl') as InputFormat;
    if (!INPUT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${INPUT_FORMATS.join(', ')}, got '${values.format}'`);
    let owners: Map<string, KeyOwner> | undefined;
    if (values.keys !== undefined) {
      try {
        owners = parseKeysFile(readInput('--keys', values.keys).toString('utf8'));
      } catch (err) {
        if (err instanceof FormatError) throw new UsageError(`--keys ${values.keys}: ${err.message}`);
        throw err;
      }
    }
    setup = {
      workers: intOption('workers', values.workers, 1) ?? 2,
      startMs: intOption('start-ms', values['start-ms'], 0),
      threshold: threshold(values),
      parse: lineParser(format, { keyField: intOption('key-field', values['key-field'], 1) ?? 1, jsonFields: jsonFields(values['json-field']) }),
      wasm: readInput('--wasm', values.wasm),
      current: readConfig(readInput('--config', values.config).toString('utf8')),
      candidate: readConfig(readInput('--policy', values.policy).toString('utf8'), '--policy'),
      owners,
    };
    for (const [option, plugin] of [['--config', setup.current], ['--policy', setup.candidate]] as const) {
      if (!isConfigObject(plugin)) throw new UsageError(`${option}: the filter configuration must be a JSON object`);
    }
    checkTrafficFile(trafficFile);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`replay: ${err.message}`);
    return 2;
  }

  // First pass: every line is checked before anything runs (no partial output on a bad recording), and the first
  // recorded time starts both clocks.
  let firstTimestamp: number | undefined;
  let bad = 0;
  let withKeyId = 0;
  for await (const { text, n } of trafficLines(trafficFile)) {
    try {
      const req = setup.parse(text, n);
      firstTimestamp ??= req.timestampMs;
      if (req.keyId !== undefined) withKeyId++;
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      if (values['skip-bad'] !== true) {
        console.error(`replay: ${trafficFile}: ${err.message}`);
        return 2;
      }
      if (++bad <= 10) console.error(`replay: skipped ${trafficFile}: ${err.message}`);
    }
  }
  if (bad > 10) console.error(`replay: skipped ${bad} bad lines in all`);
  if (withKeyId === 0) console.error('replay: no request names a key id: every request replays without a key (see docs/host.md on logging the key id)');

  let replay;
  try {
    replay = await startPolicyReplay({
      wasm: setup.wasm, current: setup.current, candidate: setup.candidate, workers: setup.workers,
      ...(setup.owners !== undefined ? { owners: setup.owners } : {}),
      ...(values['vm-id'] !== undefined ? { vmId: values['vm-id'] } : {}),
      ...(values['root-id'] !== undefined ? { rootId: values['root-id'] } : {}),
      ...(setup.startMs ?? firstTimestamp) !== undefined ? { startMs: (setup.startMs ?? firstTimestamp)! } : {},
      threshold: setup.threshold,
      onLog: (r, which) => {
        if (r.level === 'warn' || r.level === 'error' || r.level === 'critical') process.stderr.write(`[wasm ${which} ${r.vm}] ${r.level}: ${r.message}\n`);
      },
    });
  } catch (err) {
    if (!(err instanceof PolicyRejectedError)) throw err;
    console.error(`replay: ${err.message}`);
    for (const l of err.rejection.logs) console.error(`  [wasm ${err.which} ${l.vm}] ${l.level}: ${l.message}`);
    return 1;
  }

  const out = values.output === undefined ? process.stdout : createWriteStream(values.output);
  // A write error (disk full) surfaces at the next write instead of as an unhandled 'error' event.
  let failed: Error | undefined;
  if (out !== process.stdout) out.on('error', (err: Error) => { failed ??= err; });
  const emit = async (text: string): Promise<void> => {
    if (failed !== undefined) throw failed;
    await write(out, text);
  };
  try {
    if (out !== process.stdout) await once(out, 'open');
    for (let i = 0; i < bad; i++) replay.skipped();
    for await (const { text, n } of trafficLines(trafficFile)) {
      let req: RecordedRequest;
      try {
        req = setup.parse(text, n);
      } catch (err) {
        if (err instanceof FormatError) continue; // counted in the first pass
        throw err;
      }
      const change = await replay.replay(req);
      if (change !== null && values['summary-only'] !== true) await emit(`${JSON.stringify(change)}\n`);
    }
    const summary = replay.summary();
    const line = `${JSON.stringify({ summary })}\n`;
    await emit(line);
    if (out !== process.stdout) {
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await write(process.stdout, line);
    }
    const unknown = replay.unknownKeyIds();
    if (unknown.length > 0) {
      console.error(`replay: ${unknown.length} key id(s) in the traffic are in no key source (first: ${unknown[0]}); they replay with a key neither configuration knows`);
    }
    if (summary.exceeded) {
      const limit = summary.threshold?.maxChanged !== undefined ? `--max-changed ${summary.threshold.maxChanged}` : `--max-changed-pct ${summary.threshold?.maxChangedPct}`;
      console.error(`replay: ${summary.changed} of ${summary.requests} requests (${summary.changedPct} %) change decision: over ${limit}`);
      return 1;
    }
    return 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== undefined && out !== process.stdout) {
      console.error(`replay: cannot write --output ${values.output}: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  } finally {
    await replay.close();
  }
}
