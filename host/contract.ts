// The host's public contract: the types and errors of its programmatic API. Everything outside host/ (filter tests,
// replay, the local mesh, benchmarks) uses only these and `createHost`/`startFront` via host/index.ts.

export type FailStrategy = 'FAIL_CLOSE' | 'FAIL_OPEN' | 'FAIL_RELOAD';

/** A plugin as Envoy sees it (envoy.extensions.wasm.v3.PluginConfig). */
export interface PluginSpec {
  /** Plugin name, e.g. `<namespace>.<wasmplugin name>`; shown in logs and the `plugin_name` property. */
  name: string;
  /** Root id (Istio: pluginName). */
  rootId: string;
  /** VM id; shared data and queues are partitioned by it. */
  vmId: string;
  /** Module bytes. */
  wasm: Uint8Array;
  /** PLUGIN_CONFIGURATION bytes (what Istio makes of pluginConfig: compact JSON). */
  pluginConfig: Uint8Array | string;
  /** VM_CONFIGURATION bytes. */
  vmConfig?: Uint8Array | string;
  /** WASI environment (vmConfig.env). */
  env?: Record<string, string>;
  /** Default FAIL_CLOSE, as in Envoy. */
  failStrategy?: FailStrategy;
}

/** An upstream cluster reachable by proxy_http_call (real HTTP/1.1 on loopback). */
export interface ClusterSpec {
  host: string;
  port: number;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical';

export interface LogRecord {
  level: LogLevel;
  /** e.g. "canary", "main", "worker0" */
  vm: string;
  message: string;
}

export interface HostOptions {
  /** Worker VMs (Envoy --concurrency). Default 2. A main-thread VM is always added. */
  workers?: number;
  /** 'virtual' (default in tests): time moves only with advance(). 'real': wall clock and real timers. */
  clock?: 'virtual' | 'real';
  /** Start of the virtual clock, ms since epoch. Default Date.now() at creation. */
  startTimeMs?: number;
  /** Clusters for proxy_http_call, by Envoy cluster name. */
  clusters?: Record<string, ClusterSpec>;
  /** Receives every guest log line; default: drop below 'info', print the rest to stderr. */
  onLog?: (record: LogRecord) => void;
  /** Minimum log level reported by proxy_get_log_level. Default 'info'. */
  logLevel?: LogLevel;
  /** FAIL_RELOAD back-off, ms. Default 1000. */
  reloadBackoffMs?: number;
  /**
   * Deterministic interleaving of VMs for race tests: when set, a shared-data call made by one VM may first run
   * pending work of other VMs (see Host.race). The seed makes the schedule reproducible.
   */
  interleaveSeed?: number;
  /**
   * Apply Envoy's HTTP/1.1 codec limits (100 headers, 60 KiB of request headers → 431 before the filter) to
   * request()/openStream() too. The HTTP front always applies them. Default false, so programmatic tests can feed the
   * filter headers a raised Envoy limit would let through.
   */
  enforceHeaderLimits?: boolean;
  /** Properties served to get_property that are not per-request (e.g. xds.node.id). Path segments joined by '.'. */
  properties?: Record<string, string | number | boolean | Uint8Array>;
}

/** A downstream request. Header names are lowercased by the host; pseudo-headers are derived from the fields. */
export interface DownstreamRequest {
  method: string;
  /** Path with query string. */
  path: string;
  authority?: string;
  scheme?: string;
  headers?: Array<[string, string]> | Record<string, string>;
  body?: Uint8Array | string;
  trailers?: Array<[string, string]>;
  /** Worker index to run on; default round-robin. */
  worker?: number;
  /** Source address "ip:port" for source.* properties. Default "127.0.0.1:40000". */
  source?: string;
  /** Destination (listener) address "ip:port" for destination.* properties. Default "127.0.0.1:8080". */
  destination?: string;
}

export interface UpstreamRequest {
  method: string;
  path: string;
  authority: string;
  /** Headers as the upstream would receive them (no pseudo-headers), in order. */
  headers: Array<[string, string]>;
  body: Uint8Array;
  /** Request trailers after the filter (only when the request had trailers). */
  trailers?: Array<[string, string]>;
}

export interface UpstreamResponse {
  status: number;
  headers: Array<[string, string]>;
  body?: Uint8Array | string;
  trailers?: Array<[string, string]>;
}

/** The upstream the host forwards to after the filter lets a request through. */
export type Upstream = (req: UpstreamRequest) => Promise<UpstreamResponse> | UpstreamResponse;

export interface StreamResult {
  /** What the downstream client received. */
  status: number;
  headers: Array<[string, string]>;
  body: Uint8Array;
  /** True when the reply came from send_local_response or from the host itself (e.g. wasm_fail_stream). */
  localReply: boolean;
  /** Envoy response code details for local replies, e.g. "wasm_fail_stream". */
  details?: string;
  /** What the upstream received; undefined when the request was not forwarded. */
  upstreamRequest?: UpstreamRequest;
  /** Host functions the guest called while handling this stream (lifecycle callbacks excluded), by name. */
  hostCalls: Record<string, number>;
  /** Worker index that served it. */
  worker: number;
  /** Response trailers after the filter (only when the upstream sent trailers). */
  trailers?: Array<[string, string]>;
}

export interface MetricSample {
  name: string; // without the `wasmcustom.` prefix
  type: 'counter' | 'gauge' | 'histogram';
  value: number; // counters/gauges; histograms: sum
  count?: number; // histograms: number of samples
}

export type HostEvent =
  | { kind: 'vm_failed'; vm: string; reason: string }
  | { kind: 'vm_reloaded'; vm: string }
  | { kind: 'config_rejected'; reason: string }
  | { kind: 'config_applied'; generation: number };

export interface HostStats {
  /** Traps per VM label and fail-strategy events. */
  vmFailures: number;
  failClosedReplies: number;
  failOpenBypasses: number;
  reloads: number;
  configRejections: number;
  configGeneration: number;
}

export interface Host {
  /** Load a plugin: canary (start → create → vm_start → configure → dropped), then workers + main thread. */
  load(spec: PluginSpec): Promise<void>; // rejects with ConfigRejectedError
  /** ECDS-like update of the plugin configuration: canary first; on rejection the old one keeps serving. */
  reconfigure(pluginConfig: Uint8Array | string): Promise<void>; // rejects with ConfigRejectedError
  /** Run one request through the filter chain; `upstream` default answers 200 with an empty body. */
  request(req: DownstreamRequest, upstream?: Upstream): Promise<StreamResult>;
  /** Start a stream without finishing it (for live-stream/concurrency tests); resolves after request headers. */
  openStream(req: DownstreamRequest): Promise<{ id: number; worker: number; finish(upstream?: Upstream): Promise<StreamResult> }>;
  /** Virtual clock: move time forward, firing every due tick on every VM (main thread included) and delivering
   *  http_call responses/timeouts that arrived. Real clock: waits that long. */
  advance(ms: number): Promise<void>;
  /** Wait until no http_call is in flight (bounded). */
  settle(timeoutMs?: number): Promise<void>;
  now(): number; // ms since epoch on the host's clock
  metrics(): MetricSample[];
  prometheus(): string;
  stats(): HostStats;
  events(): HostEvent[];
  /** Shared data of a vm_id, for assertions: key → {value, cas}. */
  sharedData(vmId: string): Map<string, { value: Uint8Array; cas: number }>;
  /** Worker count (without the main thread). */
  readonly workers: number;
  close(): Promise<void>;
}

export class ConfigRejectedError extends Error {
  constructor(message: string, readonly logs: LogRecord[] = []) {
    super(message);
    this.name = 'ConfigRejectedError';
  }
}
