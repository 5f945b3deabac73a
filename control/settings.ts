// Every setting of the control service, read from one place (env vars, optionally overridden by CLI flags) and
// validated at start-up so a typo fails fast with the variable's name instead of misbehaving later.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FAIL_STRATEGIES, type FailStrategy } from '../contracts/wasmplugin.js';
import { isPostgresUrl, redactDbUrl } from './store/db-url.js';
import { DiscoverySettingError, parseAnnotationPrefix, parseBoolean, parseNamespaces } from './discovery/settings.js';
import { DEFAULT_USAGE_RETENTION_DAYS, MAX_USAGE_RETENTION_DAYS, MIN_USAGE_RETENTION_DAYS } from './usage/retention.js';

export type { FailStrategy };
export type DistributionTarget = { kind: 'dir'; path: string } | { kind: 'kubernetes' } | { kind: 'local' };
export interface TargetRef { group: string; kind: string; name: string }

export interface ControlSettings {
  host: string;
  port: number;
  /**
   * The store: an absolute SQLite file path, or a PostgreSQL URL (postgres:// or postgresql://) kept as given. A URL
   * may hold a password: print it only through redactDbUrl (store/db-url.ts).
   */
  dbPath: string;
  /** The file TOLLGATE_DB_FILE named (dbPath was read from it), else undefined. */
  dbFile: string | undefined;
  /** Minute-level usage older than this many days is dropped (hour and day rollups are kept). */
  usageRetentionDays: number;
  /** Plaintext admin token from the environment; only its digest is stored. */
  adminToken: string | undefined;
  /** Plaintext report token; shipped to proxies inside the WasmPlugin anyway, so it is stored as is. */
  reportToken: string | undefined;
  distribution: DistributionTarget[];
  namespace: string;
  wasmPluginName: string;
  pluginName: string;
  selector: Record<string, string> | undefined;
  targetRefs: TargetRef[] | undefined;
  filterUrl: string;
  filterSha256: string | undefined;
  failStrategy: FailStrategy;
  usageCluster: string;
  usageAuthority: string;
  usageIntervalMs: number;
  usageTimeoutMs: number;
  logLevel: string;
  debounceMs: number;
  kubeconfig: string | undefined;
  /** Fleet status: a proxy not heard from for this long is stale (undefined → 3 usage flush intervals; see fleetStaleAfterSeconds). */
  staleAfterSeconds: number | undefined;
  /** Fleet status: a proxy not heard from for this long is forgotten (its row deleted). */
  forgetAfterSeconds: number;
  /** Fleet status: most rows (VMs) kept per target; a new one past it removes the target's oldest. */
  fleetMaxRowsPerTarget: number;
  /** Service discovery (docs/discovery.md): off by default; needs discoveryNamespaces. */
  discovery: boolean;
  discoveryNamespaces: string[];
  discoveryAnnotationPrefix: string;
  /** Overwrite discovered APIs a person edited (and recreate ones a person deleted). */
  discoveryAdopt: boolean;
}

/** One row of the settings table in docs/control.md: env var, CLI flag, default. */
export interface SettingSpec { env: string; flag: string; key: keyof ControlSettings; help: string }

export const SETTING_SPECS: SettingSpec[] = [
  { env: 'TOLLGATE_CONTROL_HOST', flag: 'host', key: 'host', help: 'listen address (default 0.0.0.0)' },
  { env: 'TOLLGATE_CONTROL_PORT', flag: 'port', key: 'port', help: 'listen port (default 7070; 0 = any free port)' },
  { env: 'TOLLGATE_DB', flag: 'db', key: 'dbPath', help: 'SQLite file (default ./.tollgate/tollgate.db) or postgres://… URL' },
  { env: 'TOLLGATE_DB_FILE', flag: 'db-file', key: 'dbFile', help: 'file holding the TOLLGATE_DB value (e.g. a mounted Secret with the URL); instead of TOLLGATE_DB' },
  { env: 'TOLLGATE_ADMIN_TOKEN', flag: 'admin-token', key: 'adminToken', help: 'admin bearer token(s), comma-separated (default: generated once, printed once)' },
  { env: 'TOLLGATE_REPORT_TOKEN', flag: 'report-token', key: 'reportToken', help: 'token proxies use for reports/distribution (default: generated, stored)' },
  { env: 'TOLLGATE_DISTRIBUTION', flag: 'distribution', key: 'distribution', help: 'comma list of dir:<path>, kubernetes, local (default none)' },
  { env: 'TOLLGATE_NAMESPACE', flag: 'namespace', key: 'namespace', help: 'namespace of the WasmPlugin (default default)' },
  { env: 'TOLLGATE_WASMPLUGIN_NAME', flag: 'wasmplugin-name', key: 'wasmPluginName', help: 'metadata.name of the WasmPlugin (default tollgate)' },
  { env: 'TOLLGATE_PLUGIN_NAME', flag: 'plugin-name', key: 'pluginName', help: 'spec.pluginName = root id (default tollgate)' },
  { env: 'TOLLGATE_SELECTOR', flag: 'selector', key: 'selector', help: 'workload labels, e.g. app=shop,tier=web (default none)' },
  { env: 'TOLLGATE_TARGET_REFS', flag: 'target-refs', key: 'targetRefs', help: 'Kind/name list, e.g. Gateway/public (instead of selector)' },
  { env: 'TOLLGATE_FILTER_URL', flag: 'filter-url', key: 'filterUrl', help: 'filter image: oci://… or file:///… (default file://<cwd>/build/tollgate.wasm)' },
  { env: 'TOLLGATE_FILTER_SHA256', flag: 'filter-sha256', key: 'filterSha256', help: '64 hex chars pinning the image (default none)' },
  { env: 'TOLLGATE_FAIL_STRATEGY', flag: 'fail-strategy', key: 'failStrategy', help: 'FAIL_CLOSE (default), FAIL_OPEN or FAIL_RELOAD' },
  { env: 'TOLLGATE_USAGE_CLUSTER', flag: 'usage-cluster', key: 'usageCluster', help: 'Envoy cluster the filter reports to' },
  { env: 'TOLLGATE_USAGE_AUTHORITY', flag: 'usage-authority', key: 'usageAuthority', help: ':authority of usage reports' },
  { env: 'TOLLGATE_USAGE_INTERVAL_MS', flag: 'usage-interval-ms', key: 'usageIntervalMs', help: 'filter flush interval, 100…3600000 (default 10000)' },
  { env: 'TOLLGATE_USAGE_TIMEOUT_MS', flag: 'usage-timeout-ms', key: 'usageTimeoutMs', help: 'filter report timeout, 100…60000 (default 5000)' },
  { env: 'TOLLGATE_USAGE_RETENTION_DAYS', flag: 'usage-retention-days', key: 'usageRetentionDays', help: `days minute-level usage is kept, ${MIN_USAGE_RETENTION_DAYS}…${MAX_USAGE_RETENTION_DAYS} (default ${DEFAULT_USAGE_RETENTION_DAYS})` },
  { env: 'TOLLGATE_LOG_LEVEL', flag: 'log-level', key: 'logLevel', help: 'pino level: fatal…trace, silent (default info)' },
  { env: 'TOLLGATE_DEBOUNCE_MS', flag: 'debounce-ms', key: 'debounceMs', help: 'wait after a change before redistributing (default 200)' },
  { env: 'TOLLGATE_FLEET_STALE_AFTER_SECONDS', flag: 'fleet-stale-after-seconds', key: 'staleAfterSeconds', help: 'a proxy silent this long is stale in GET /v1/fleet, 1…86400 (default 3 usage flush intervals)' },
  { env: 'TOLLGATE_FLEET_FORGET_AFTER_SECONDS', flag: 'fleet-forget-after-seconds', key: 'forgetAfterSeconds', help: 'a proxy silent this long is forgotten, 2…2592000, more than the stale interval (default 3600)' },
  { env: 'TOLLGATE_FLEET_MAX_ROWS_PER_TARGET', flag: 'fleet-max-rows-per-target', key: 'fleetMaxRowsPerTarget', help: 'fleet status rows (proxy VMs) kept per target, the newest; 10…10000000 (default 50000)' },
  { env: 'KUBECONFIG', flag: 'kubeconfig', key: 'kubeconfig', help: 'kubeconfig for kubernetes mode (default: in-cluster, then ~/.kube/config)' },
  { env: 'TOLLGATE_DISCOVERY', flag: 'discovery', key: 'discovery', help: 'true: make APIs from annotated Services (default false; docs/discovery.md)' },
  { env: 'TOLLGATE_DISCOVERY_NAMESPACES', flag: 'discovery-namespaces', key: 'discoveryNamespaces', help: 'comma list of namespaces discovery watches (required with discovery)' },
  { env: 'TOLLGATE_DISCOVERY_ANNOTATION_PREFIX', flag: 'discovery-annotation-prefix', key: 'discoveryAnnotationPrefix', help: 'annotation prefix (default tollgate.dev/)' },
  { env: 'TOLLGATE_DISCOVERY_OVERWRITE', flag: 'discovery-overwrite', key: 'discoveryAdopt', help: 'true: overwrite discovered APIs a person edited (default false)' },
];

export class SettingsError extends Error {}

const DEFAULT_SERVICE = 'tollgate-control.tollgate.svc.cluster.local';
/** Fleet status: a proxy silent for an hour is forgotten. */
export const DEFAULT_FORGET_AFTER_S = 3600;
/**
 * Fleet status rows kept per target: 50,000 VMs (some 16,000 three-VM sidecars). A leaked reporter credential can post
 * a new node id with every report; this keeps what each GET /v1/fleet and scrape reads bounded.
 */
export const DEFAULT_FLEET_MAX_ROWS_PER_TARGET = 50_000;

/**
 * The stale interval in effect: as set, else three usage flush intervals (a live worker reports at least once per
 * interval, a heartbeat when idle: two missed reports in a row are tolerated).
 */
export function fleetStaleAfterSeconds(s: Pick<ControlSettings, 'staleAfterSeconds' | 'usageIntervalMs'>): number {
  return s.staleAfterSeconds ?? Math.max(1, Math.ceil((3 * s.usageIntervalMs) / 1000));
}

export function defaultSettings(cwd = process.cwd()): ControlSettings {
  return {
    host: '0.0.0.0',
    port: 7070,
    dbPath: resolve(cwd, '.tollgate/tollgate.db'),
    dbFile: undefined,
    usageRetentionDays: DEFAULT_USAGE_RETENTION_DAYS,
    adminToken: undefined,
    reportToken: undefined,
    distribution: [],
    namespace: 'default',
    wasmPluginName: 'tollgate',
    pluginName: 'tollgate',
    selector: undefined,
    targetRefs: undefined,
    filterUrl: `file://${resolve(cwd, 'build/tollgate.wasm')}`,
    filterSha256: undefined,
    failStrategy: 'FAIL_CLOSE',
    usageCluster: `outbound|7070||${DEFAULT_SERVICE}`,
    usageAuthority: DEFAULT_SERVICE,
    usageIntervalMs: 10_000,
    usageTimeoutMs: 5_000,
    logLevel: 'info',
    debounceMs: 200,
    kubeconfig: undefined,
    staleAfterSeconds: undefined,
    forgetAfterSeconds: DEFAULT_FORGET_AFTER_S,
    fleetMaxRowsPerTarget: DEFAULT_FLEET_MAX_ROWS_PER_TARGET,
    discovery: false,
    discoveryNamespaces: [],
    discoveryAnnotationPrefix: 'tollgate.dev/',
    discoveryAdopt: false,
  };
}

function integer(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new SettingsError(`${name}: expected an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new SettingsError(`${name}: ${n} is outside ${min}…${max}`);
  return n;
}

export function parseDistribution(name: string, raw: string): DistributionTarget[] {
  const targets: DistributionTarget[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    if (part === 'kubernetes' || part === 'local') targets.push({ kind: part });
    else if (part.startsWith('dir:') && part.length > 4) targets.push({ kind: 'dir', path: resolve(part.slice(4)) });
    else throw new SettingsError(`${name}: unknown distribution '${part}' (expected dir:<path>, kubernetes or local)`);
  }
  return targets;
}

function parseSelector(name: string, raw: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const pair of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([A-Za-z0-9._/-]{1,253})=([A-Za-z0-9._-]{0,63})$/.exec(pair);
    if (m === null) throw new SettingsError(`${name}: '${pair}' is not label=value`);
    labels[m[1]!] = m[2]!;
  }
  return Object.keys(labels).length === 0 ? undefined : labels;
}

const REF_GROUPS: Record<string, string> = {
  Gateway: 'gateway.networking.k8s.io',
  GatewayClass: 'gateway.networking.k8s.io',
  Service: '',
  ServiceEntry: 'networking.istio.io',
};

function parseTargetRefs(name: string, raw: string): TargetRef[] | undefined {
  const refs: TargetRef[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([A-Za-z]+)\/([a-z0-9.-]{1,253})$/.exec(part);
    const group = m === null ? undefined : REF_GROUPS[m[1]!];
    if (m === null || group === undefined) {
      throw new SettingsError(`${name}: '${part}' is not Kind/name with Kind one of ${Object.keys(REF_GROUPS).join(', ')}`);
    }
    refs.push({ group, kind: m[1]!, name: m[2]! });
  }
  return refs.length === 0 ? undefined : refs;
}

/** A PostgreSQL URL as given (never path-resolved, never printed unredacted), else a SQLite path made absolute. */
function parseDb(name: string, raw: string): string {
  if (!isPostgresUrl(raw)) return resolve(raw);
  try {
    new URL(raw);
  } catch {
    throw new SettingsError(`${name}: not a valid PostgreSQL URL: ${redactDbUrl(raw)}`);
  }
  return raw;
}

/** The value of TOLLGATE_DB kept in a file (a Kubernetes Secret volume keeps the password out of the pod spec). */
function readDbFile(name: string, raw: string): { dbFile: string; dbPath: string } {
  const dbFile = resolve(raw);
  let text: string;
  try {
    text = readFileSync(dbFile, 'utf8').trim();
  } catch (err) {
    throw new SettingsError(`${name}: cannot read '${dbFile}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (text === '') throw new SettingsError(`${name}: '${dbFile}' is empty`);
  return { dbFile, dbPath: parseDb(`${name} ('${dbFile}')`, text) };
}

function validToken(t: string): boolean {
  return t.length >= 16 && t.length <= 512 && !/\s/.test(t);
}

function applyOne(s: ControlSettings, spec: SettingSpec, name: string, raw: string): void {
  switch (spec.key) {
    case 'port': s.port = integer(name, raw, 0, 65535); break;
    case 'usageIntervalMs': s.usageIntervalMs = integer(name, raw, 100, 3_600_000); break;
    case 'usageTimeoutMs': s.usageTimeoutMs = integer(name, raw, 100, 60_000); break;
    case 'debounceMs': s.debounceMs = integer(name, raw, 0, 60_000); break;
    case 'staleAfterSeconds': s.staleAfterSeconds = integer(name, raw, 1, 86_400); break;
    case 'forgetAfterSeconds': s.forgetAfterSeconds = integer(name, raw, 2, 2_592_000); break;
    case 'fleetMaxRowsPerTarget': s.fleetMaxRowsPerTarget = integer(name, raw, 10, 10_000_000); break;
    case 'distribution': s.distribution = parseDistribution(name, raw); break;
    case 'selector': s.selector = parseSelector(name, raw); break;
    case 'targetRefs': s.targetRefs = parseTargetRefs(name, raw); break;
    case 'usageRetentionDays': s.usageRetentionDays = integer(name, raw, MIN_USAGE_RETENTION_DAYS, MAX_USAGE_RETENTION_DAYS); break;
    case 'dbPath': s.dbPath = parseDb(name, raw); s.dbFile = undefined; break;
    case 'dbFile': Object.assign(s, readDbFile(name, raw)); break;
    case 'failStrategy':
      if (!(FAIL_STRATEGIES as readonly string[]).includes(raw)) {
        throw new SettingsError(`${name}: expected ${FAIL_STRATEGIES.join(', ')}, got '${raw}'`);
      }
      s.failStrategy = raw as FailStrategy;
      break;
    case 'filterSha256':
      if (!/^[a-f0-9]{64}$/.test(raw)) throw new SettingsError(`${name}: expected 64 lowercase hex chars`);
      s.filterSha256 = raw;
      break;
    case 'logLevel':
      if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(raw)) {
        throw new SettingsError(`${name}: unknown log level '${raw}'`);
      }
      s.logLevel = raw;
      break;
    case 'adminToken':
      if (raw.split(',').some((t) => !validToken(t))) {
        throw new SettingsError(`${name}: expected comma-separated tokens of 16–512 characters without whitespace`);
      }
      s.adminToken = raw;
      break;
    case 'reportToken':
      if (!validToken(raw) || raw.includes(',')) throw new SettingsError(`${name}: expected 16–512 characters without whitespace or commas`);
      s.reportToken = raw;
      break;
    case 'discovery': case 'discoveryAdopt': case 'discoveryNamespaces': case 'discoveryAnnotationPrefix':
      try {
        if (spec.key === 'discoveryNamespaces') s.discoveryNamespaces = parseNamespaces(name, raw);
        else if (spec.key === 'discoveryAnnotationPrefix') s.discoveryAnnotationPrefix = parseAnnotationPrefix(name, raw);
        else s[spec.key] = parseBoolean(name, raw);
      } catch (err) {
        if (err instanceof DiscoverySettingError) throw new SettingsError(err.message);
        throw err;
      }
      break;
    case 'host': case 'namespace': case 'wasmPluginName': case 'pluginName': case 'filterUrl':
    case 'usageCluster': case 'usageAuthority': case 'kubeconfig':
      if (raw === '') throw new SettingsError(`${name}: must not be empty`);
      s[spec.key] = raw;
      break;
    default: throw new SettingsError(`${name}: not settable`);
  }
}

/**
 * TOLLGATE_DB and TOLLGATE_DB_FILE name the same thing: at most one of them per level; a flag wins over the
 * environment.
 */
function applyDb(s: ControlSettings, env: NodeJS.ProcessEnv, flags: Record<string, string | undefined>): void {
  const [db, file] = (['dbPath', 'dbFile'] as const).map((key) => SETTING_SPECS.find((spec) => spec.key === key)!);
  const levels = [
    { db: flags[db!.flag], file: flags[file!.flag], dbName: `--${db!.flag}`, fileName: `--${file!.flag}` },
    { db: env[db!.env] || undefined, file: env[file!.env] || undefined, dbName: db!.env, fileName: file!.env },
  ];
  for (const l of levels) {
    if (l.db !== undefined && l.file !== undefined) throw new SettingsError(`${l.dbName} and ${l.fileName}: set at most one`);
    if (l.db !== undefined) return applyOne(s, db!, l.dbName, l.db);
    if (l.file !== undefined) return applyOne(s, file!, l.fileName, l.file);
  }
}

/** Settings from env vars, then flags (`--port 0` style values keyed by SettingSpec.flag) on top. */
export function loadSettings(env: NodeJS.ProcessEnv, flags: Record<string, string | undefined> = {}, cwd = process.cwd()): ControlSettings {
  const s = defaultSettings(cwd);
  for (const spec of SETTING_SPECS) {
    if (spec.key === 'dbPath' || spec.key === 'dbFile') continue;
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') applyOne(s, spec, spec.env, fromEnv);
    const fromFlag = flags[spec.flag];
    if (fromFlag !== undefined) applyOne(s, spec, `--${spec.flag}`, fromFlag);
  }
  applyDb(s, env, flags);
  if (s.discovery && s.discoveryNamespaces.length === 0) {
    throw new SettingsError('TOLLGATE_DISCOVERY: list the namespaces to manage in TOLLGATE_DISCOVERY_NAMESPACES (least privilege: no cluster-wide watch)');
  }
  if (fleetStaleAfterSeconds(s) >= s.forgetAfterSeconds) {
    throw new SettingsError(`TOLLGATE_FLEET_FORGET_AFTER_SECONDS: ${s.forgetAfterSeconds} must be more than the stale interval (${fleetStaleAfterSeconds(s)} s)`);
  }
  if (s.selector !== undefined && s.targetRefs !== undefined) {
    throw new SettingsError('TOLLGATE_SELECTOR and TOLLGATE_TARGET_REFS: set at most one (the WasmPlugin allows one)');
  }
  return s;
}
