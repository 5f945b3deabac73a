// Recorded-traffic parsers for `tollgate replay --policy` (docs/host.md, "Replaying against a candidate policy"): one
// parser per input format, each turning one line into a RecordedRequest or a FormatError naming the line, plus the
// reader of the `--keys` file. Pure: no host, no I/O.
import { KEY_FEED_VERSION, type FeedKey } from '../../contracts/key-feed.js';

export const INPUT_FORMATS = ['jsonl', 'envoy-text', 'envoy-json'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** A bad input line (or key-file line): the message starts with `line N:`. */
export class FormatError extends Error {
  constructor(readonly line: number, detail: string) {
    super(`line ${line}: ${detail}`);
    this.name = 'FormatError';
  }
}

/** One recorded request, whatever format it came from. */
export interface RecordedRequest {
  line: number;
  method: string;
  path: string;
  authority?: string;
  headers?: Record<string, string> | Array<[string, string]>;
  body?: string;
  worker?: number;
  /** Move the virtual clock this far before the request (JSONL only). */
  advanceMs?: number;
  /** When the request started, ms since epoch: the virtual clock is moved to it (never backwards). */
  timestampMs?: number;
  /** The key the request was made with, by id (recorded traffic never holds plaintext keys). */
  keyId?: string;
}

/** The id form of contracts and docs/filter-config.md: 1–64 chars of [A-Za-z0-9._:-]. */
const ID = /^[A-Za-z0-9._:-]{1,64}$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPairList = (v: unknown): v is Array<[string, string]> =>
  Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');

// RFC 3339 (a space for the T tolerated, as many loggers write it); fractions beyond milliseconds are truncated.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** A timestamp as ms since epoch: a number of ms, or an RFC 3339 string. undefined = not a timestamp. */
export function parseTimestamp(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 && v <= 8.64e15 ? Math.floor(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const m = RFC3339.exec(v);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const local = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 02-30 over into March: a date that does not round-trip is not a date.
  const back = new Date(local);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h
    || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== s) return undefined;
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const zone = m[8]!;
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const t = local + ms - offsetMin * 60_000;
  return t >= 0 ? t : undefined;
}

/** `label` names the field in the error, e.g. `"keyId"`. */
function keyIdOf(v: unknown, n: number, label: string): string | undefined {
  // Envoy writes '-' for an unset value (and null in typed JSON): the request carried no key id.
  if (v === undefined || v === null || v === '-' || v === '') return undefined;
  if (typeof v !== 'string' || !ID.test(v)) throw new FormatError(n, `${label} must be a key id (1–64 of A-Z a-z 0-9 . _ : -), got ${JSON.stringify(v)}`);
  return v;
}

function parseObject(line: string, n: number): Record<string, unknown> {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch {
    throw new FormatError(n, 'not JSON');
  }
  if (!isRecord(input)) throw new FormatError(n, 'expected a JSON object');
  return input;
}

/** A line of the plain replay's format (docs/host.md "Replay"). */
export interface ReplayLine {
  method?: string; path?: string; headers?: Record<string, string> | Array<[string, string]>; body?: string;
  worker?: number; advanceMs?: number; authority?: string;
}

/**
 * The replay line format, checked field by field: {"method","path","headers"?,"body"?,"worker"?,"advanceMs"?,
 * "authority"?}. Other fields are left for the caller (the plain replay ignores them; --policy reads two more).
 */
export function checkReplayLine(line: string, n: number): ReplayLine & Record<string, unknown> {
  const input = parseObject(line, n);
  for (const key of ['method', 'path', 'body', 'authority'] as const) {
    if (input[key] !== undefined && typeof input[key] !== 'string') throw new FormatError(n, `"${key}" must be a string`);
  }
  const headers = input.headers;
  if (headers !== undefined && !isPairList(headers) && !(isRecord(headers) && Object.values(headers).every((v) => typeof v === 'string'))) {
    throw new FormatError(n, '"headers" must be an object of strings or a list of [name, value] pairs');
  }
  if (input.worker !== undefined && !(Number.isSafeInteger(input.worker) && (input.worker as number) >= 0)) {
    throw new FormatError(n, '"worker" must be an integer ≥ 0');
  }
  if (input.advanceMs !== undefined && !(typeof input.advanceMs === 'number' && Number.isFinite(input.advanceMs) && input.advanceMs >= 0)) {
    throw new FormatError(n, '"advanceMs" must be a number ≥ 0');
  }
  return input as ReplayLine & Record<string, unknown>;
}

/**
 * A JSONL line for --policy: the replay line format plus "keyId"? and "timestamp"? (ms since epoch or RFC 3339);
 * method and path default as in the plain replay (GET, /).
 */
export function parseJsonlRequest(line: string, n: number): RecordedRequest {
  const input = checkReplayLine(line, n);
  let timestampMs: number | undefined;
  if (input.timestamp !== undefined) {
    timestampMs = parseTimestamp(input.timestamp);
    if (timestampMs === undefined) throw new FormatError(n, '"timestamp" must be ms since epoch or an RFC 3339 date-time');
    if (input.advanceMs !== undefined) throw new FormatError(n, 'give "timestamp" or "advanceMs", not both');
  }
  const keyId = keyIdOf(input.keyId, n, '"keyId"');
  return {
    line: n, method: input.method ?? 'GET', path: input.path ?? '/',
    ...(input.authority !== undefined ? { authority: input.authority } : {}),
    ...(input.headers !== undefined ? { headers: input.headers } : {}),
    ...(input.body !== undefined ? { body: input.body } : {}),
    ...(input.worker !== undefined ? { worker: input.worker } : {}),
    ...(input.advanceMs !== undefined ? { advanceMs: input.advanceMs } : {}),
    ...(timestampMs !== undefined ? { timestampMs } : {}),
    ...(keyId !== undefined ? { keyId } : {}),
  };
}

// Envoy's default access-log format string (docs/host.md quotes it): [START_TIME] "METHOD PATH PROTOCOL" RESPONSE_CODE
// RESPONSE_FLAGS BYTES_RECEIVED BYTES_SENT DURATION UPSTREAM_SERVICE_TIME "X-FORWARDED-FOR" "USER-AGENT"
// "X-REQUEST-ID" "AUTHORITY" "UPSTREAM_HOST", then whatever the operator appended. Envoy does not escape quotes inside
// values; only the user agent realistically holds one, so only that field is matched lazily.
const ENVOY_TEXT = new RegExp(
  '^\\[([^\\]]*)\\] "(\\S+) (\\S+) ([^"]*)" (\\S+) (\\S+) (\\S+) (\\S+) (\\S+) (\\S+) '
  + '"([^"]*)" "(.*?)" "([^"]*)" "([^"]*)" "([^"]*)"(?=\\s|$)(.*)$',
);
const EXTRA_FIELD = /\s*("([^"]*)"|\S+)/y;

/** The fields appended after the default format, quotes removed. */
function extraFields(rest: string): string[] {
  const out: string[] = [];
  EXTRA_FIELD.lastIndex = 0;
  for (;;) {
    if (rest.slice(EXTRA_FIELD.lastIndex).trim() === '') return out;
    const m = EXTRA_FIELD.exec(rest);
    if (m === null) return out;
    out.push(m[2] ?? m[1]!);
  }
}

export interface EnvoyTextOptions {
  /** Which appended field (1 = the first after "%UPSTREAM_HOST%") holds the key id. Default 1. */
  keyField?: number;
}

/** One line of an Envoy access log in the default text format, with optional appended fields. */
export function parseEnvoyTextLine(line: string, n: number, options: EnvoyTextOptions = {}): RecordedRequest {
  const m = ENVOY_TEXT.exec(line.trimEnd());
  if (m === null) throw new FormatError(n, 'not an Envoy access log line in the default format ([%START_TIME%] "%REQ(:METHOD)% … "%UPSTREAM_HOST%")');
  const [, start, method, path, , , , , , , , , , , authority, , rest] = m as unknown as string[];
  if (method === '-' || path === '-') throw new FormatError(n, 'no request line (the request never reached the filter)');
  const timestampMs = parseTimestamp(start);
  if (timestampMs === undefined) throw new FormatError(n, `START_TIME ${JSON.stringify(start)} is not an RFC 3339 date-time`);
  const keyField = options.keyField ?? 1;
  const keyId = keyIdOf(extraFields(rest ?? '')[keyField - 1], n, `appended field ${keyField} (key id)`);
  return {
    line: n, method: method!, path: path!, timestampMs,
    ...(authority !== '-' && authority !== '' ? { authority: authority! } : {}),
    ...(keyId !== undefined ? { keyId } : {}),
  };
}

/** Names of the JSON access log's keys, as the operator configured them (`--json-field NAME=KEY` renames). */
export interface EnvoyJsonFields { method: string; path: string; authority: string; start_time: string; key_id: string }
export const DEFAULT_JSON_FIELDS: Readonly<EnvoyJsonFields> = {
  method: 'method', path: 'path', authority: 'authority', start_time: 'start_time', key_id: 'key_id',
};

/** One line of an Envoy JSON access log (json_format). Unset values ('-' or null) count as absent. */
export function parseEnvoyJsonLine(line: string, n: number, fields: EnvoyJsonFields = DEFAULT_JSON_FIELDS): RecordedRequest {
  const input = parseObject(line, n);
  const text = (name: keyof EnvoyJsonFields, required: boolean): string | undefined => {
    const v = input[fields[name]];
    if (v === undefined || v === null || v === '-') {
      if (required) throw new FormatError(n, `"${fields[name]}" (${name}) is missing`);
      return undefined;
    }
    if (typeof v !== 'string' || v === '') throw new FormatError(n, `"${fields[name]}" (${name}) must be a non-empty string`);
    return v;
  };
  const method = text('method', true)!;
  const path = text('path', true)!;
  const authority = text('authority', false);
  const start = input[fields.start_time];
  let timestampMs: number | undefined;
  if (start !== undefined && start !== null && start !== '-') {
    timestampMs = parseTimestamp(start);
    if (timestampMs === undefined) throw new FormatError(n, `"${fields.start_time}" (start_time) must be an RFC 3339 date-time or ms since epoch`);
  }
  const keyId = keyIdOf(input[fields.key_id], n, `"${fields.key_id}" (key_id)`);
  return {
    line: n, method, path,
    ...(authority !== undefined ? { authority } : {}),
    ...(timestampMs !== undefined ? { timestampMs } : {}),
    ...(keyId !== undefined ? { keyId } : {}),
  };
}

export interface ParseOptions extends EnvoyTextOptions { jsonFields?: EnvoyJsonFields }

/** The parser of one format. */
export function lineParser(format: InputFormat, options: ParseOptions = {}): (line: string, n: number) => RecordedRequest {
  switch (format) {
    case 'jsonl': return parseJsonlRequest;
    case 'envoy-text': return (line, n) => parseEnvoyTextLine(line, n, options);
    case 'envoy-json': return (line, n) => parseEnvoyJsonLine(line, n, options.jsonFields ?? DEFAULT_JSON_FIELDS);
  }
}

/** Who a key id belongs to: its consumer, its plan by id, and its validity (unix seconds, 0 = none). */
export interface KeyOwner { keyId: string; consumerId: string; planId: string; expiresAt: number; notBefore?: number }

function feedKey(v: unknown, where: string, n: number): KeyOwner {
  if (!Array.isArray(v) || v.length !== 5) throw new FormatError(n, `${where} must be a FeedKey [digest, keyId, consumerId, planId, expiresAt]`);
  const [, keyId, consumerId, planId, expiresAt] = v as FeedKey;
  for (const [name, id] of [['keyId', keyId], ['consumerId', consumerId], ['planId', planId]] as const) {
    if (typeof id !== 'string' || !ID.test(id)) throw new FormatError(n, `${where}: ${name} must be an id, got ${JSON.stringify(id)}`);
  }
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) throw new FormatError(n, `${where}: expiresAt must be unix seconds ≥ 0 (0 = never)`);
  return { keyId, consumerId, planId, expiresAt };
}

function snapshotKeys(page: Record<string, unknown>, n: number): KeyOwner[] {
  if (page.kind !== 'snapshot' || page.version !== KEY_FEED_VERSION || !Array.isArray(page.keys)) {
    throw new FormatError(n, `expected a key-feed snapshot page (version ${KEY_FEED_VERSION}, kind "snapshot", keys) or a FeedKey tuple`);
  }
  return page.keys.map((k, i) => feedKey(k, `keys[${i}]`, n));
}

/**
 * The `--keys` file: one key-feed snapshot page (contracts/key-feed.ts; pretty-printed or not), or JSON lines each
 * holding a FeedKey tuple or a snapshot page (pages concatenated). The digest is not used: replay mints its own keys.
 * A key id named twice keeps its last entry (a later page was read at a later revision).
 */
export function parseKeysFile(text: string): Map<string, KeyOwner> {
  const out = new Map<string, KeyOwner>();
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (isRecord(whole)) {
    for (const k of snapshotKeys(whole, 1)) out.set(k.keyId, k);
    return out;
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new FormatError(i + 1, 'not JSON');
    }
    const keys = isRecord(v) ? snapshotKeys(v, i + 1) : [feedKey(v, 'the line', i + 1)];
    for (const k of keys) out.set(k.keyId, k);
  });
  return out;
}
