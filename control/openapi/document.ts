// Reading an OpenAPI document from a request body: bytes → JSON value (400 when that fails) → checked against the
// official OpenAPI 3.0 / 3.1 schemas (422 with a JSON pointer per error). What the document means for tollgate is
// model.ts; this file only says whether it is a well-formed OpenAPI document.
import { Validator } from '@seriousme/openapi-schema-validator';
import type { ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';

/** One reason a document is refused: a JSON pointer (RFC 6901) into the document, and what is wrong there. */
export interface DocumentProblem { pointer: string; message: string }

/** The body is not JSON / YAML at all (400). */
export class DocumentSyntaxError extends Error {}

/** The document parsed but is not one tollgate imports (422): every problem found, each with its pointer. */
export class DocumentRefusedError extends Error {
  constructor(readonly problems: DocumentProblem[]) {
    super(`the OpenAPI document was refused: ${problems.length} problem(s), the first at '${problems[0]?.pointer ?? ''}': ${problems[0]?.message ?? ''}`);
  }
}

/** Media types the import takes, by the syntax they carry. */
export const JSON_TYPES = ['application/json', 'application/vnd.oai.openapi+json'] as const;
export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'application/vnd.oai.openapi'] as const;
export type Syntax = 'json' | 'yaml';

/** The syntax of a content type (parameters such as `charset` ignored), or undefined for one the import does not take. */
export function syntaxOf(contentType: string | undefined): Syntax | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if ((JSON_TYPES as readonly string[]).includes(type)) return 'json';
  if ((YAML_TYPES as readonly string[]).includes(type)) return 'yaml';
  return undefined;
}

/** Most problems listed in one refusal (a broken document can produce thousands; the first ones say enough). */
export const MAX_PROBLEMS = 100;

/**
 * Bytes → a JSON value. UTF-8 only (OpenAPI documents are JSON or YAML text; YAML 1.2 also allows UTF-16, which we
 * refuse rather than guess). YAML: one document, unique keys, aliases expanded at most 1,000 times (a small file
 * cannot expand into gigabytes: the "billion laughs" shape).
 */
export function parseBody(bytes: Uint8Array, syntax: Syntax): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new DocumentSyntaxError('the document is not valid UTF-8');
  }
  if (text.trim() === '') throw new DocumentSyntaxError('the document is empty');
  if (syntax === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new DocumentSyntaxError(`the document is not JSON: ${(err as Error).message}`);
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = lines.linePos(first.pos[0]);
    const where = ` (line ${pos.line}, column ${pos.col})`;
    // The YAML parser recurses per nesting level: a document nested thousands deep ends its stack, not ours.
    const why = first.message.includes('Maximum call stack') ? `nested too deeply (at most ${MAX_DEPTH} levels)` : first.message.split('\n')[0];
    throw new DocumentSyntaxError(`the document is not YAML${where}: ${why}`);
  }
  try {
    return doc.toJS({ maxAliasCount: 1000 }) as unknown;
  } catch (err) {
    throw new DocumentSyntaxError(`the document is not usable YAML: ${(err as Error).message}`);
  }
}

/** JSON pointer escaping of one reference token (RFC 6901). */
export const token = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');
export const pointerOf = (...parts: (string | number)[]): string => parts.map((p) => `/${token(String(p))}`).join('');

// One validator for the process: it compiles the official schema of each version once (~150 ms) and keeps it. Its
// validate() keeps per-call state on the instance, but for an object input it does its work synchronously after one
// microtask, so calls cannot interleave.
let validator: Validator | undefined;

function ajvProblem(e: ErrorObject): DocumentProblem {
  const params = e.params as Record<string, unknown>;
  const extra = params.additionalProperty ?? params.unevaluatedProperty;
  const message = e.message ?? e.keyword;
  return {
    pointer: e.instancePath,
    message: typeof extra === 'string' ? `${message}: '${extra}'`
      : params.allowedValues !== undefined ? `${message}: ${JSON.stringify(params.allowedValues)}` : message,
  };
}

/** Problems that make `doc` something other than an OpenAPI 3.0 or 3.1 document ([] when it is one). */
export async function openApiProblems(doc: unknown): Promise<DocumentProblem[]> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return [{ pointer: '', message: 'an OpenAPI document is an object' }];
  const deep = tooDeep(doc);
  if (deep !== undefined) return [{ pointer: deep, message: `nested deeper than ${MAX_DEPTH} levels` }];
  const version = (doc as { openapi?: unknown }).openapi;
  if (typeof version !== 'string' || !/^3\.[01]\.\d+(-.+)?$/.test(version)) {
    const swagger = (doc as { swagger?: unknown }).swagger !== undefined;
    return [{
      pointer: swagger ? '/swagger' : '/openapi',
      message: `must be an OpenAPI 3.0.x or 3.1.x document (found ${swagger ? 'Swagger 2.0' : JSON.stringify(version ?? null)}); convert it first`,
    }];
  }
  validator ??= new Validator();
  const result = await validator.validate(doc as Record<string, unknown>);
  if (result.valid) return [];
  if (typeof result.errors === 'string') return [refProblem(doc, result.errors)];
  return (result.errors ?? [{ instancePath: '', message: 'does not match the OpenAPI schema' } as ErrorObject]).slice(0, MAX_PROBLEMS).map(ajvProblem);
}

/**
 * Deepest nesting taken. Real documents stay far below (schemas a few dozen levels deep); the schema validator and
 * the $ref check recurse, so a deeper document would only exhaust the stack there.
 */
export const MAX_DEPTH = 256;

/** The pointer of the first value nested deeper than MAX_DEPTH, found without recursion; undefined when none is. */
function tooDeep(doc: object): string | undefined {
  const stack: [unknown, number, string][] = [[doc, 0, '']];
  while (stack.length > 0) {
    const [node, depth, at] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= MAX_DEPTH) return at;
    for (const [k, v] of Object.entries(node)) stack.push([v, depth + 1, `${at}/${token(k)}`]);
  }
  return undefined;
}

/** True for the one problem openApiProblems() reports about `$ref`s (the schema itself was met). */
export const isRefProblem = (p: DocumentProblem): boolean => p.pointer.endsWith('/$ref') || p.message.startsWith("Can't resolve");

/**
 * The validator checks `$ref`s after the schema and says only which reference it could not resolve: point at the first
 * `$ref` holding that value (depth-first, bounded), or at the document when none is found.
 */
function refProblem(doc: object, message: string): DocumentProblem {
  const ref = /^Can't resolve (.+?), only/.exec(message)?.[1];
  if (ref !== undefined) {
    const stack: [unknown, string][] = [[doc, '']];
    for (let seen = 0; stack.length > 0 && seen < 1_000_000; seen++) {
      const [node, at] = stack.pop()!;
      if (typeof node !== 'object' || node === null) continue;
      if ((node as { $ref?: unknown }).$ref === ref) return { pointer: `${at}/$ref`, message };
      const entries = Object.entries(node).reverse();
      for (const [k, v] of entries) stack.push([v, `${at}/${token(k)}`]);
    }
  }
  return { pointer: '', message };
}
