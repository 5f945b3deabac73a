// `tollgate replay --policy`: the same recorded requests through two filter configurations (current and candidate),
// each on its own Envoy-like host with the same worker count and the same virtual clock, so each policy's quota
// windows evolve on their own. Keys: recorded traffic names keys by id only, so replay mints one synthetic plaintext
// per key id, writes its digest as a static key into both configurations (the plan found by id in each), and sends
// it where the current configuration looks first. Format and rules: docs/host.md, "Replaying against a candidate
// policy".
import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson } from '../../contracts/canonical-json.js';
import { ConfigRejectedError, type DownstreamRequest, type Host, type LogRecord } from '../contract.js';
import { createHost } from '../runtime/plugin-host.js';
import { decisionOf, NO_KEY, Totals, UNKNOWN_KEY, type Change, type Summary, type Threshold } from './compare.js';
import type { ReplayPlugin } from './config.js';
import type { KeyOwner, RecordedRequest } from './formats.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where a key is sent (docs/filter-config.md "KeyLocation"). */
export type KeyLocation = { header: string; prefix?: string } | { query: string };
const DEFAULT_LOCATION: KeyLocation = { header: 'x-api-key' };
const DEFAULT_IDENTITY = { consumer: 'x-tollgate-consumer', keyId: 'x-tollgate-key-id', plan: 'x-tollgate-plan' };

/** A configuration's own parsed JSON (what readReplayConfig passes on). */
function configObject(plugin: ReplayPlugin): Record<string, unknown> {
  const v: unknown = JSON.parse(plugin.pluginConfig);
  if (!isRecord(v)) throw new TypeError('a filter configuration must be a JSON object');
  return v;
}

/** Whether replay can work on this configuration (keys and plans are read from a JSON object). */
export const isConfigObject = (plugin: ReplayPlugin): boolean => isRecord(JSON.parse(plugin.pluginConfig));

function planIds(config: Record<string, unknown>): Array<string | undefined> {
  return Array.isArray(config.plans) ? config.plans.map((p) => (isRecord(p) && typeof p.id === 'string' ? p.id : undefined)) : [];
}

/**
 * Key owners from the configurations' static `keys` (KeyRecord: [digest, keyId, consumerId, planIndex, expiresAt?,
 * notBefore?]), the plan index turned into the plan's id. The current configuration names a key first; the candidate
 * adds only key ids the current one lacks (replay compares policies, not key sets).
 */
export function ownersFromConfigs(configs: ReplayPlugin[]): Map<string, KeyOwner> {
  const out = new Map<string, KeyOwner>();
  for (const plugin of configs) {
    const config = configObject(plugin);
    const plans = planIds(config);
    for (const k of Array.isArray(config.keys) ? config.keys : []) {
      if (!Array.isArray(k)) continue;
      const [, keyId, consumerId, planIndex, expiresAt, notBefore] = k as unknown[];
      if (typeof keyId !== 'string' || typeof consumerId !== 'string' || typeof planIndex !== 'number' || out.has(keyId)) continue;
      const planId = plans[planIndex];
      if (planId === undefined) continue;
      out.set(keyId, {
        keyId, consumerId, planId, expiresAt: typeof expiresAt === 'number' ? expiresAt : 0,
        ...(typeof notBefore === 'number' && notBefore > 0 ? { notBefore } : {}),
      });
    }
  }
  return out;
}

/** One configuration made ready to replay. */
export interface PreparedPolicy {
  pluginConfig: string;
  /** Lowercase identity header names (empty ones disabled). */
  identityHeaders: string[];
  /** Key ids whose plan this configuration lacks: left out of its keys. */
  planless: Set<string>;
}

/**
 * The configuration with `keys` replaced by the synthetic keys and `usage`/`keyFeed` removed: replay talks to no
 * control service, and with `usage` the filter would cap hour/day/month limits at the cold-start share until a fleet
 * sync that never comes; with `keyFeed` it would hold no keys at all.
 */
export function preparePolicy(plugin: ReplayPlugin, owners: Map<string, KeyOwner>, plaintexts: Map<string, string>): PreparedPolicy {
  const config = configObject(plugin);
  const plans = planIds(config);
  const planless = new Set<string>();
  const keys: unknown[] = [];
  for (const owner of owners.values()) {
    const planIndex = plans.indexOf(owner.planId);
    if (planIndex < 0) {
      planless.add(owner.keyId);
      continue;
    }
    const record: unknown[] = [digest(plaintexts.get(owner.keyId)!), owner.keyId, owner.consumerId, planIndex];
    if (owner.expiresAt > 0 || owner.notBefore !== undefined) record.push(owner.expiresAt);
    if (owner.notBefore !== undefined) record.push(owner.notBefore);
    keys.push(record);
  }
  const { usage: _usage, keyFeed: _keyFeed, ...rest } = config;
  const identity = isRecord(config.identityHeaders) ? { ...DEFAULT_IDENTITY, ...config.identityHeaders } : DEFAULT_IDENTITY;
  const identityHeaders = Object.values(identity).filter((v): v is string => typeof v === 'string' && v !== '').map((v) => v.toLowerCase());
  return { pluginConfig: canonicalJson({ ...rest, keys }), identityHeaders, planless };
}

/** The first configured key location (the default list's first entry when none is configured). */
export function firstKeyLocation(plugin: ReplayPlugin): KeyLocation {
  const locations = configObject(plugin).keyLocations;
  const first: unknown = Array.isArray(locations) ? locations[0] : undefined;
  if (isRecord(first) && typeof first.header === 'string') {
    return { header: first.header.toLowerCase(), ...(typeof first.prefix === 'string' ? { prefix: first.prefix } : {}) };
  }
  if (isRecord(first) && typeof first.query === 'string') return { query: first.query };
  return DEFAULT_LOCATION;
}

/** The header names of every header key location (to drop recorded copies: a request replays with replay's key or none). */
function keyHeaderNames(plugin: ReplayPlugin): string[] {
  const locations = configObject(plugin).keyLocations;
  const list: unknown[] = Array.isArray(locations) ? locations : [DEFAULT_LOCATION, { query: 'api_key' }];
  return list.filter((l): l is { header: string } => isRecord(l) && typeof l.header === 'string').map((l) => l.header.toLowerCase());
}

export function digest(plaintext: string): string {
  return createHash('sha256').update(plaintext, 'utf8').digest('base64url');
}

/** A fresh random plaintext (never printed; each run has its own). */
export const mintPlaintext = (): string => `tgr_${randomBytes(24).toString('base64url')}`;

/** The downstream request of a recorded one: the key (if any) put where `location` says, recorded key headers dropped. */
export function withKey(req: RecordedRequest, location: KeyLocation, plaintext: string | undefined, dropHeaders: readonly string[]): DownstreamRequest {
  const given = req.headers === undefined ? [] : Array.isArray(req.headers) ? req.headers : Object.entries(req.headers);
  const headers: Array<[string, string]> = given.filter(([name]) => !dropHeaders.includes(name.toLowerCase()));
  let path = req.path;
  if (plaintext !== undefined) {
    if ('header' in location) headers.push([location.header, `${location.prefix ?? ''}${plaintext}`]);
    else path = `${path}${path.includes('?') ? '&' : '?'}${encodeURIComponent(location.query)}=${plaintext}`;
  }
  return {
    method: req.method, path, headers,
    ...(req.body !== undefined ? { body: req.body } : {}),
    ...(req.authority !== undefined ? { authority: req.authority } : {}),
  };
}

/** Whether a key is within its validity at `nowMs` (the filter's rule: expired from expiresAt on, valid from notBefore on). */
function validAt(owner: KeyOwner, nowMs: number): boolean {
  const s = Math.floor(nowMs / 1000);
  return (owner.expiresAt === 0 || s < owner.expiresAt) && (owner.notBefore === undefined || s >= owner.notBefore);
}

/** A configuration the filter refused (`which`: "current" or "candidate"). */
export class PolicyRejectedError extends Error {
  constructor(readonly which: 'current' | 'candidate', readonly rejection: ConfigRejectedError) {
    super(`${which} configuration rejected: ${rejection.message}`);
    this.name = 'PolicyRejectedError';
  }
}

export interface PolicyReplayOptions {
  wasm: Uint8Array;
  current: ReplayPlugin;
  candidate: ReplayPlugin;
  /** Key id → owner (from --keys); absent: the configurations' static keys name them. */
  owners?: Map<string, KeyOwner>;
  workers?: number;
  vmId?: string;
  rootId?: string;
  /** Virtual clock start; default the first recorded timestamp, else now. */
  startMs?: number;
  threshold?: Threshold | null;
  onLog?: (record: LogRecord, which: 'current' | 'candidate') => void;
}

export interface PolicyReplay {
  /** Replays one request on both hosts; returns the change, or null when both decided alike. */
  replay(req: RecordedRequest): Promise<Change | null>;
  /** Counts a skipped input line (--skip-bad). */
  skipped(): void;
  summary(): Summary;
  /** Key ids seen in the traffic that no key source names. */
  unknownKeyIds(): string[];
  close(): Promise<void>;
}

/** Loads both configurations on their own hosts. Throws PolicyRejectedError when the filter refuses one. */
export async function startPolicyReplay(options: PolicyReplayOptions): Promise<PolicyReplay> {
  const owners = options.owners ?? ownersFromConfigs([options.current, options.candidate]);
  const plaintexts = new Map<string, string>();
  for (const id of owners.keys()) plaintexts.set(id, mintPlaintext());
  const sides = [
    { which: 'current' as const, plugin: options.current, prepared: preparePolicy(options.current, owners, plaintexts) },
    { which: 'candidate' as const, plugin: options.candidate, prepared: preparePolicy(options.candidate, owners, plaintexts) },
  ];
  const startMs = options.startMs ?? Date.now();
  const hosts: Host[] = [];
  try {
    for (const side of sides) {
      const host = createHost({
        workers: options.workers ?? 2,
        startTimeMs: startMs,
        onLog: (r) => options.onLog?.(r, side.which),
      });
      hosts.push(host);
      try {
        await host.load({
          name: `replay-${side.which}`,
          rootId: options.rootId ?? side.plugin.rootId ?? 'tollgate',
          vmId: options.vmId ?? 'tollgate',
          wasm: options.wasm,
          pluginConfig: side.prepared.pluginConfig,
          ...(side.plugin.failStrategy ? { failStrategy: side.plugin.failStrategy } : {}),
        });
      } catch (err) {
        if (err instanceof ConfigRejectedError) throw new PolicyRejectedError(side.which, err);
        throw err;
      }
    }
  } catch (err) {
    for (const h of hosts) await h.close();
    throw err;
  }
  const [current, candidate] = hosts as [Host, Host];
  const location = firstKeyLocation(options.current);
  const drop = [...new Set([...keyHeaderNames(options.current), ...keyHeaderNames(options.candidate)])];
  const totals = new Totals();
  const unknown = new Map<string, string>();
  const threshold = options.threshold ?? null;

  return {
    async replay(req) {
      // Both clocks move together: to the recorded start time (never backwards: Envoy logs a request when it ends,
      // so start times in a log are not strictly ordered), or by advanceMs.
      const target = req.timestampMs ?? (req.advanceMs !== undefined ? current.now() + req.advanceMs : current.now());
      if (target > current.now()) {
        const step = target - current.now();
        await current.advance(step);
        await candidate.advance(step);
      }
      const owner = req.keyId === undefined ? undefined : owners.get(req.keyId);
      let plaintext: string | undefined;
      if (req.keyId !== undefined) {
        plaintext = plaintexts.get(req.keyId);
        if (plaintext === undefined) {
          // A key id no key source names: the client sent some key neither configuration knows.
          plaintext = unknown.get(req.keyId) ?? mintPlaintext();
          unknown.set(req.keyId, plaintext);
        }
      }
      const downstream = withKey(req, location, plaintext, drop);
      // A recording made with more workers still replays: the worker index wraps around (same on both hosts).
      // Otherwise round-robin, which stays in step: both hosts get the same requests in the same order.
      if (req.worker !== undefined) downstream.worker = req.worker % current.workers;
      const decisions = [];
      for (const [i, host] of [current, candidate].entries()) {
        const side = sides[i]!;
        const result = await host.request(downstream);
        // "no-plan" only where the key would otherwise be valid: an expired key is refused for that in both.
        const leftOut = owner !== undefined && side.prepared.planless.has(owner.keyId) && validAt(owner, host.now());
        decisions.push(decisionOf(result, side.prepared.identityHeaders, leftOut));
      }
      const [cur, cand] = decisions as [Change['current'], Change['candidate']];
      const bucket = req.keyId === undefined ? NO_KEY : owner === undefined ? UNKNOWN_KEY : owner.consumerId;
      if (!totals.add(bucket, cur, cand)) return null;
      return {
        line: req.line, keyId: req.keyId ?? null, consumer: owner?.consumerId ?? null, method: req.method, path: req.path,
        current: cur, candidate: cand,
      };
    },
    skipped() {
      totals.skippedLines++;
    },
    summary: () => totals.summary(threshold),
    unknownKeyIds: () => [...unknown.keys()],
    async close() {
      await current.close();
      await candidate.close();
    },
  };
}
