// What an OpenAPI document means for tollgate (docs/control.md "Importing OpenAPI"): the API's name and base path, and
// one operation per path item × method with its path template in the filter's normalized form (control/path-prefix.ts,
// contracts/filter-config.ts FilterOperation), cost and visibility from `x-tollgate`. Pure: a validated document in,
// a model or every problem found (each with its JSON pointer) out.
import {
  MAX_OPERATION_COST, MAX_OPERATIONS_PER_API, PERIODS, UNKNOWN_OPERATION_MODES, type OperationLimit, type Per, type UnknownOperationMode,
} from '../../contracts/filter-config.js';
import { MAX_OPERATION_LIMITS } from '../limit-rules.js';
import { pathPrefixProblem } from '../path-prefix.js';
import { VISIBILITIES, type Visibility } from '../store/types.js';
import { DocumentRefusedError, MAX_PROBLEMS, pointerOf, type DocumentProblem } from './document.js';

/** The HTTP methods a path item can hold (OpenAPI 3.0/3.1), in the order operations are numbered within one. */
export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface ModelOperation {
  /** What keeps the operation's id across re-imports: the operationId, else "METHOD template" (before the base path). */
  key: string;
  operationId: string | null;
  method: string;
  path: string;
  cost: number;
  visibility: Visibility;
  summary: string | null;
  position: number;
  /** Default limits (x-tollgate `limits` on the operation; empty: none). */
  limits: OperationLimit[];
  /** Where it is in the document. */
  pointer: string;
}

export interface ImportModel {
  title: string;
  version: string;
  /** The API's name: `name` if given, else info.title. */
  name: string;
  /** The base path ('/' when there is none). */
  pathPrefix: string;
  unknownOperation: UnknownOperationMode;
  operations: ModelOperation[];
}

export interface ModelOptions {
  /** Overrides info.title as the API's name. */
  name?: string;
  /** Overrides the base path taken from servers[0].url (already checked: normalized form). */
  pathPrefix?: string;
}

/** Longest path template stored (the filter's prefix bound). */
const MAX_PATH = 1024;
const MAX_SUMMARY = 1024;
const MAX_NAME = 128;
const RAW = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Problems {
  readonly list: DocumentProblem[] = [];
  add(pointer: string, message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push({ pointer, message });
  }
}

/** Settings x-tollgate may carry; `unknownOperation` only at the document level. */
interface Extension { cost?: number; visibility?: Visibility; unknownOperation?: UnknownOperationMode; limits?: OperationLimit[] }

const LIMIT_ID = /^[A-Za-z0-9._:/-]{1,64}$/;
const LIMIT_FIELDS = ['requests', 'per', 'id', 'shadow'];

/** An operation's x-tollgate `limits`: `[{requests, per, id?, shadow?}]`, at most MAX_OPERATION_LIMITS, ids unique. */
function readLimits(v: unknown, at: string, problems: Problems): OperationLimit[] | undefined {
  if (!Array.isArray(v)) {
    problems.add(at, 'limits must be an array of {requests, per, id?, shadow?}');
    return undefined;
  }
  if (v.length > MAX_OPERATION_LIMITS) {
    problems.add(at, `at most ${MAX_OPERATION_LIMITS} limits per operation (${v.length} given)`);
    return undefined;
  }
  const out: OperationLimit[] = [];
  const ids = new Map<string, number>();
  let ok = true;
  v.forEach((l: unknown, i) => {
    const here = `${at}/${i}`;
    if (!isObj(l)) {
      problems.add(here, 'a limit must be an object {requests, per, id?, shadow?}');
      ok = false;
      return;
    }
    const before = problems.list.length;
    for (const f of Object.keys(l)) if (!LIMIT_FIELDS.includes(f)) problems.add(`${here}${pointerOf(f)}`, `unknown limit field '${f}' (known: ${LIMIT_FIELDS.join(', ')})`);
    const { requests, per, id, shadow } = l;
    if (typeof requests !== 'number' || !Number.isInteger(requests) || requests < 1 || requests > 2147483647) problems.add(`${here}/requests`, 'requests must be an integer from 1 to 2147483647');
    if (typeof per !== 'string' || !(PERIODS as readonly string[]).includes(per)) problems.add(`${here}/per`, `per must be one of ${PERIODS.join(', ')}`);
    if (id !== undefined && (typeof id !== 'string' || !LIMIT_ID.test(id))) problems.add(`${here}/id`, 'id must be 1 to 64 of A-Z a-z 0-9 . _ : / -');
    if (shadow !== undefined && typeof shadow !== 'boolean') problems.add(`${here}/shadow`, 'shadow must be a boolean');
    if (problems.list.length !== before) {
      ok = false;
      return;
    }
    const limit: OperationLimit = { requests: requests as number, per: per as Per, ...(id !== undefined ? { id: id as string } : {}), ...(shadow === true ? { shadow: true } : {}) };
    // Without an id a limit is named by its period (`<apiId>/<operationId>:<per>`): two of one period need ids.
    const name = limit.id ?? limit.per;
    const first = ids.get(name);
    if (first !== undefined) {
      problems.add(here, `same id as ${at}/${first} ('${name}'): give one of them an id`);
      ok = false;
      return;
    }
    ids.set(name, i);
    out.push(limit);
  });
  return ok ? out : undefined;
}

function readExtension(value: unknown, at: string, documentLevel: boolean, problems: Problems, operationLevel = false): Extension {
  const out: Extension = {};
  if (value === undefined) return out;
  if (!isObj(value)) {
    problems.add(at, 'x-tollgate must be an object');
    return out;
  }
  for (const [field, v] of Object.entries(value)) {
    const here = `${at}${pointerOf(field)}`;
    switch (field) {
      case 'cost':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_OPERATION_COST) problems.add(here, `cost must be an integer from 0 to ${MAX_OPERATION_COST}`);
        else out.cost = v;
        break;
      case 'visibility':
        if (typeof v !== 'string' || !(VISIBILITIES as readonly string[]).includes(v)) problems.add(here, `visibility must be one of ${VISIBILITIES.join(', ')}`);
        else out.visibility = v as Visibility;
        break;
      case 'unknownOperation':
        if (!documentLevel) problems.add(here, 'unknownOperation is set for the whole API: put it in the document-level x-tollgate');
        else if (typeof v !== 'string' || !(UNKNOWN_OPERATION_MODES as readonly string[]).includes(v)) problems.add(here, `unknownOperation must be one of ${UNKNOWN_OPERATION_MODES.join(', ')}`);
        else out.unknownOperation = v as UnknownOperationMode;
        break;
      case 'limits': {
        if (!operationLevel) {
          problems.add(here, 'limits are an operation\'s defaults: put them in the operation\'s x-tollgate (plans set limits for whole APIs)');
          break;
        }
        const limits = readLimits(v, here, problems);
        if (limits !== undefined) out.limits = limits;
        break;
      }
      default:
        problems.add(here, `unknown x-tollgate field '${field}' (known: cost, visibility${documentLevel ? ', unknownOperation' : ''}${operationLevel ? ', limits' : ''})`);
    }
  }
  return out;
}

/**
 * The path of a server URL: variables replaced by their defaults, absolute or relative URLs alike, without a trailing
 * '/' ('' for the root). Null after recording a problem.
 */
function serverBase(server: unknown, at: string, problems: Problems): string | null {
  if (!isObj(server) || typeof server.url !== 'string') return '';
  const variables = isObj(server.variables) ? server.variables : {};
  let missing: string | undefined;
  const url = server.url.replace(/\{([^{}]*)\}/g, (_m, name: string) => {
    const v = variables[name];
    const d = isObj(v) ? v.default : undefined;
    if (typeof d === 'string') return d;
    missing ??= name;
    return '';
  });
  if (missing !== undefined) {
    problems.add(`${at}/url`, `server variable '${missing}' has no default`);
    return null;
  }
  let path: string;
  try {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url)) path = new URL(url).pathname;
    else if (url.startsWith('//')) path = new URL(`http:${url}`).pathname;
    else path = new URL(url, 'http://relative.invalid/').pathname;
  } catch {
    problems.add(`${at}/url`, `not a URL: ${JSON.stringify(url)}`);
    return null;
  }
  const base = normalizeTemplate(path.replace(/\/+$/, ''), false);
  if (typeof base !== 'string') {
    problems.add(`${at}/url`, `its path ${JSON.stringify(path)} ${base.problem}`);
    return null;
  }
  return base;
}

/** One literal segment in normalized form (RFC 3986 normal form, as path-prefix.ts requires), or why it cannot be. */
function normalizeLiteral(segment: string): string | { problem: string } {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '%') {
      const hex = segment.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        out += '%25';
        continue;
      }
      const decoded = String.fromCharCode(parseInt(hex, 16));
      if (decoded === '/' || decoded === '\\') return { problem: `has an escaped '/' or '\\' ('%${hex}'), which the filter reads as a separator` };
      out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
      i += 2;
      continue;
    }
    if (RAW.test(c)) {
      out += c;
      continue;
    }
    if (c === ';' || c === '?' || c === '#') return { problem: `has ${JSON.stringify(c)}: a path template cannot hold parameters, a query or a fragment` };
    if (c === '\\') return { problem: "has '\\', which the filter reads as '/'" };
    // Everything else (spaces, non-ASCII, other punctuation) is percent-encoded as UTF-8, uppercase hex.
    const cp = segment.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    out += Array.from(new TextEncoder().encode(ch), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    i += ch.length - 1;
  }
  return out;
}

/**
 * A parameter name as the filter's `{name}` takes it (docs/filter-config.md "Operations"): printable ASCII but '/',
 * '{', '}' (anything else becomes '_'). Names are labels only: the filter does not interpret them.
 */
const paramName = (name: string): string => name.replace(/[^!-.0-z|~]/g, '_');

/**
 * A path (template) in the filter's normalized form. Empty segments inside are merged ('//' → '/': the filter merges
 * slashes); a trailing '/' is kept. With `templates`, `{name}` segments stay parameters, and a segment mixing text and
 * parameters (`{a}.{b}`, `v{n}`, `report.{format}`) becomes one parameter `{a_b}`: the filter's templates match whole
 * segments only, so such an operation matches any value of that segment (documented). A `*` segment is refused (the
 * filter would read it as a wildcard).
 */
export function normalizeTemplate(path: string, templates = true): string | { problem: string } {
  if (path === '') return '';
  if (!path.startsWith('/')) return { problem: "must start with '/'" };
  const segments = path.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '') {
      if (last) out.push('');
      continue;
    }
    if (s === '.' || s === '..') return { problem: "has a '.' or '..' segment, which the filter refuses" };
    if (s === '*') return { problem: "has a '*' segment, which the filter's templates read as a wildcard" };
    if (templates && (s.includes('{') || s.includes('}'))) {
      const whole = /^\{([^{}/]+)\}$/.exec(s);
      if (whole !== null) {
        out.push(`{${paramName(whole[1]!).slice(0, 64)}}`);
        continue;
      }
      if (!/^(?:[^{}]+|\{[^{}/]+\})+$/.test(s)) return { problem: `has an unbalanced or empty '{...}' in segment ${JSON.stringify(s)}` };
      out.push(`{${[...s.matchAll(/\{([^{}]+)\}/g)].map((m) => paramName(m[1]!)).join('_').slice(0, 64)}}`);
      continue;
    }
    const literal = normalizeLiteral(s);
    if (typeof literal !== 'string') return { problem: `segment ${JSON.stringify(s)} ${literal.problem}` };
    out.push(literal);
  }
  const result = `/${out.join('/')}`;
  if (result.length > MAX_PATH) return { problem: `is longer than ${MAX_PATH} characters in normalized form` };
  // The same rule REST applies to a prefix, on the template with its parameters as plain text: a safety net.
  const problem = pathPrefixProblem(result.replace(/\{[^/]*\}/g, 'p'));
  return problem === null ? result : { problem };
}

/** Path items may be `$ref`s to `#/components/pathItems/...` (3.1) or elsewhere in the document: local ones are followed. */
function resolvePathItem(doc: Obj, item: unknown, at: string, problems: Problems): { item: Obj; at: string } | null {
  let current = item;
  let where = at;
  for (let depth = 0; isObj(current) && typeof current.$ref === 'string'; depth++) {
    const ref = current.$ref;
    if (depth >= 16) {
      problems.add(`${where}/$ref`, 'too many nested $refs');
      return null;
    }
    if (!ref.startsWith('#')) {
      problems.add(`${where}/$ref`, `only references inside the document ('#/...') are followed; bundle ${JSON.stringify(ref)} into it first`);
      return null;
    }
    let target: unknown = doc;
    const tokens = ref.slice(1).split('/').slice(1).map((t) => decodeURIComponent(t).replace(/~1/g, '/').replace(/~0/g, '~'));
    for (const t of tokens) target = isObj(target) ? target[t] : undefined;
    if (target === undefined) {
      problems.add(`${where}/$ref`, `${JSON.stringify(ref)} points at nothing`);
      return null;
    }
    where = ref.slice(1);
    current = target;
  }
  return isObj(current) ? { item: current, at: where } : null;
}

/** The model of a document that passed openApiProblems(); throws DocumentRefusedError with every problem found. */
export function toModel(doc: Obj, options: ModelOptions = {}): ImportModel {
  const problems = new Problems();
  const info = isObj(doc.info) ? doc.info : {};
  const title = typeof info.title === 'string' ? info.title : '';
  const version = typeof info.version === 'string' ? info.version : '';
  const name = options.name ?? title.trim();
  if (options.name === undefined && (name === '' || name.length > MAX_NAME || [...name].some((c) => c < ' ' || c === '\u007f'))) {
    problems.add('/info/title', `the API's name comes from info.title: 1 to ${MAX_NAME} characters without control characters (or pass ?name=)`);
  }
  const top = readExtension(doc['x-tollgate'], '/x-tollgate', true, problems);

  const docServers = Array.isArray(doc.servers) ? doc.servers : [];
  const docBase = options.pathPrefix !== undefined ? options.pathPrefix.replace(/\/+$/, '') : (serverBase(docServers[0], '/servers/0', problems) ?? '');
  const pathPrefix = docBase === '' ? '/' : docBase;

  const operations: ModelOperation[] = [];
  const byOperationId = new Map<string, string>();
  const byShape = new Map<string, string>();
  const byKey = new Map<string, string>();
  const paths = isObj(doc.paths) ? doc.paths : {};
  for (const [template, rawItem] of Object.entries(paths)) {
    const itemAt = pointerOf('paths', template);
    const resolved = resolvePathItem(doc, rawItem, itemAt, problems);
    if (resolved === null) continue;
    const { item, at } = resolved;
    const itemExt = readExtension(item['x-tollgate'], `${at}/x-tollgate`, false, problems);
    // Servers on a path item or operation override the document's (unless the caller fixed the base path).
    const itemServers = Array.isArray(item.servers) && item.servers.length > 0 && options.pathPrefix === undefined
      ? serverBase(item.servers[0], `${at}/servers/0`, problems) : docBase;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObj(op)) continue;
      const opAt = `${at}/${method}`;
      const ext = readExtension(op['x-tollgate'], `${opAt}/x-tollgate`, false, problems, true);
      const base = Array.isArray(op.servers) && op.servers.length > 0 && options.pathPrefix === undefined
        ? serverBase(op.servers[0], `${opAt}/servers/0`, problems) : itemServers;
      if (base === null) continue;
      if (base !== docBase && !(`${base}/`.startsWith(`${docBase}/`))) {
        problems.add(`${opAt}/servers/0/url`, `the operation's base path ${JSON.stringify(base)} is outside the API's ${JSON.stringify(pathPrefix)}`);
        continue;
      }
      const path = normalizeTemplate(base + template);
      if (typeof path !== 'string') {
        problems.add(itemAt, `path ${JSON.stringify(base + template)} ${path.problem}`);
        break;
      }
      const METHOD = method.toUpperCase();
      const shape = `${METHOD} ${path.replace(/\{[^/]*\}/g, '{}')}`;
      const twin = byShape.get(shape);
      if (twin !== undefined) {
        problems.add(opAt, `matches the same requests as ${twin} (same method, same path once parameter names are ignored)`);
        continue;
      }
      byShape.set(shape, opAt);
      const operationId = typeof op.operationId === 'string' ? op.operationId : null;
      if (operationId !== null) {
        const other = byOperationId.get(operationId);
        if (other !== undefined) {
          problems.add(`${opAt}/operationId`, `operationId ${JSON.stringify(operationId)} is also used by ${other}: operationIds must be unique`);
          continue;
        }
        byOperationId.set(operationId, opAt);
      }
      // An operationId spelled like another operation's "METHOD template" key would make the two one operation.
      const key = operationId ?? `${METHOD} ${template}`;
      const sameKey = byKey.get(key);
      if (sameKey !== undefined) {
        problems.add(operationId !== null ? `${opAt}/operationId` : opAt, `its key ${JSON.stringify(key)} is also ${sameKey}'s: give the operation without an operationId one`);
        continue;
      }
      byKey.set(key, opAt);
      const summary = typeof op.summary === 'string' && op.summary !== '' ? op.summary.slice(0, MAX_SUMMARY) : null;
      operations.push({
        key, operationId, method: METHOD, path,
        cost: ext.cost ?? itemExt.cost ?? top.cost ?? 1,
        visibility: ext.visibility ?? itemExt.visibility ?? top.visibility ?? 'public',
        summary, position: operations.length, limits: ext.limits ?? [], pointer: opAt,
      });
    }
  }
  if (operations.length > MAX_OPERATIONS_PER_API) problems.add('/paths', `has ${operations.length} operations; an API takes at most ${MAX_OPERATIONS_PER_API}`);
  if (problems.list.length > 0) throw new DocumentRefusedError(problems.list);
  return { title, version, name, pathPrefix, unknownOperation: top.unknownOperation ?? 'reject', operations };
}
