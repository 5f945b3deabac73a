// Shared setup for the filter's host-based tests: build/tollgate.wasm loaded into the Envoy-like test host with a
// virtual clock, plus helpers to make keys and configurations in the documented format.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createHost, type FailStrategy, type Host, type HostOptions, type LogRecord } from '../../host/index.js';

export const WASM_PATH = new URL('../../build/tollgate.wasm', import.meta.url);
/** 2026-01-01T00:00:00Z, a minute/hour/day/month boundary. */
export const T0 = 1767225600000;

export function wasm(): Uint8Array {
  return readFileSync(WASM_PATH);
}

/** SHA-256 of the key, base64url without padding: the configuration's digest form. */
export function digest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64url');
}

export interface TestConfig {
  version: number;
  apis: unknown[];
  plans: unknown[];
  keys: unknown[];
  [k: string]: unknown;
}

/** A configuration with one API (/orders), one plan and the given keys (plaintext → [keyId, consumer, planIndex...]). */
export function baseConfig(limits: Array<{ requests: number; per: string }> = [{ requests: 100, per: 'minute' }]): TestConfig {
  return {
    version: 1,
    apis: [
      { id: 'api_orders', pathPrefix: '/orders', methods: ['GET', 'POST'] },
      { id: 'api_admin', pathPrefix: '/admin' },
    ],
    plans: [
      { id: 'pln_gold', limits, apiIds: ['api_orders'] },
    ],
    keys: [
      [digest('key-alpha'), 'key_alpha', 'con_acme', 0],
      [digest('key-expired'), 'key_expired', 'con_acme', 0, 1000],
      [digest('key-future'), 'key_future', 'con_acme', 0, 0, 4102444800],
    ],
  };
}

export interface Harness {
  host: Host;
  logs: LogRecord[];
}

/** `failStrategy`: the plugin's (FAIL_CLOSE by default, as in Envoy). */
export async function startHost(config: unknown, options: HostOptions = {}, failStrategy?: FailStrategy): Promise<Harness> {
  const logs: LogRecord[] = [];
  const host = createHost({ clock: 'virtual', startTimeMs: T0, workers: 2, onLog: (r) => logs.push(r), ...options });
  await host.load({
    name: 'tollgate',
    rootId: 'tollgate',
    vmId: 'tollgate',
    wasm: wasm(),
    pluginConfig: typeof config === 'string' || config instanceof Uint8Array ? config : JSON.stringify(config),
    ...(failStrategy === undefined ? {} : { failStrategy }),
  });
  return { host, logs };
}

export function header(headers: Array<[string, string]>, name: string): string | undefined {
  return headers.find(([k]) => k === name)?.[1];
}

export function headerAll(headers: Array<[string, string]>, name: string): string[] {
  return headers.filter(([k]) => k === name).map(([, v]) => v);
}

/** Seeded PRNG so randomized tests are reproducible: the host's own (mulberry32). */
export { seededRandom as prng } from '../../host/runtime/interleave.js';
