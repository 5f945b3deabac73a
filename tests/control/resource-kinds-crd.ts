// Validating rendered objects the way the API server would, offline: each CRD's structural schema through Ajv (with the
// Kubernetes extensions translated), and each CRD's CEL rules (x-kubernetes-validations) by hand-written checks named
// after the rule — no CEL engine is installed. A rule that applies to a rendered object but has no check fails the
// validation, so a renderer that starts setting a new field cannot skip its rules unnoticed.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';

type Schema = Record<string, unknown>;
export interface CelRule { path: string[]; rule: string; message: string }
type Check = (self: unknown) => boolean;

/** The CRD's v1alpha1 openAPIV3Schema (the first document of the file that is a CustomResourceDefinition). */
export function crdSchema(file: string): Schema {
  const docs = parseAllDocuments(readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8')).map((d) => d.toJS() as Schema | null);
  const crd = docs.find((d) => d?.kind === 'CustomResourceDefinition') as { spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] } };
  return crd.spec.versions.find((v) => v.name === 'v1alpha1')!.schema.openAPIV3Schema;
}

/**
 * The structural schema as plain JSON Schema:
 * - x-kubernetes-int-or-string → an integer or a string;
 * - an object with properties and without x-kubernetes-preserve-unknown-fields gets additionalProperties: false —
 *   the API server would prune an unknown field silently, which for us is a renderer bug, so it fails here;
 * - format int32/int64 → the range, byte → base64, date-time → RFC 3339 (Ajv has no formats built in);
 * - nullable: true → null allowed too;
 * - every other x-kubernetes-* keyword is only about storage or CEL and is dropped.
 */
export function structural(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(structural);
  if (schema === null || typeof schema !== 'object') return schema;
  const s = schema as Schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'description' || k === 'default') continue;
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Schema).map(([p, ps]) => [p, structural(ps)]));
    else if (k === 'items' || k === 'additionalProperties' || k === 'not') out[k] = structural(v);
    else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') out[k] = structural(v);
    else if (k === 'format' && (v === 'int32' || v === 'int64')) {
      out.minimum = v === 'int32' ? -(2 ** 31) : Number.MIN_SAFE_INTEGER;
      out.maximum = v === 'int32' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
    } else if (k === 'format' && v === 'byte') out.pattern = '^[A-Za-z0-9+/]*={0,2}$';
    else if (k === 'format' && v === 'date-time') out.pattern = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$';
    else if (k === 'nullable') continue;
    else out[k] = v;
  }
  if (s['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (s.properties !== undefined && s['x-kubernetes-preserve-unknown-fields'] !== true && s.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  if (s.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

export function compileCrd(file: string): ValidateFunction {
  const root = crdSchema(file);
  // Every object has these at its root whether or not the CRD's schema lists them (Istio's do not).
  const withRoot = { ...root, properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...(root.properties as Schema) } };
  return new Ajv({ strict: false, allErrors: true }).compile(structural(withRoot) as Schema);
}

/** Every CEL rule of the schema with where it sits: property names, '[]' for list items, '{}' for map values. */
export function celRules(schema: Schema, path: string[] = []): CelRule[] {
  const rules: CelRule[] = [];
  for (const v of (schema['x-kubernetes-validations'] as { rule: string; message: string }[] | undefined) ?? []) {
    rules.push({ path, rule: v.rule, message: v.message });
  }
  for (const [k, v] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) rules.push(...celRules(v, [...path, k]));
  if (schema.items !== undefined) rules.push(...celRules(schema.items as Schema, [...path, '[]']));
  if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null) {
    rules.push(...celRules(schema.additionalProperties as Schema, [...path, '{}']));
  }
  return rules;
}

/** The values at `path` in `object` (none when the path is absent). */
function valuesAt(object: unknown, path: string[]): unknown[] {
  let values = [object];
  for (const seg of path) {
    const next: unknown[] = [];
    for (const v of values) {
      if (v === null || typeof v !== 'object') continue;
      if (seg === '[]') { if (Array.isArray(v)) next.push(...v); } else if (seg === '{}') next.push(...Object.values(v));
      else if (seg in v) next.push((v as Record<string, unknown>)[seg]);
    }
    values = next;
  }
  return values;
}

const has = (o: unknown, field: string): boolean => o !== null && typeof o === 'object' && field in o && (o as Record<string, unknown>)[field] !== undefined;
const get = (o: unknown, field: string): unknown => (o as Record<string, unknown>)[field];
const refs = (o: unknown, field: string): { group?: string; kind?: string }[] => (get(o, field) as { group?: string; kind?: string }[]);
const EG_KINDS = ['Gateway', 'ListenerSet', 'HTTPRoute', 'GRPCRoute', 'UDPRoute', 'TCPRoute', 'TLSRoute'];
const EG_ROUTES = ['HTTPRoute', 'GRPCRoute', 'UDPRoute', 'TCPRoute', 'TLSRoute'];
/** CEL isURL/url().getScheme(), as the Istio rule uses them: a URL with one of these schemes, or a bare host/path. */
function istioUrlScheme(self: unknown): boolean {
  const s = String(self);
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s);
  const allowed = ['http', 'https', 'file', 'oci'];
  if (m !== null && URL.canParse(s)) return allowed.includes(m[1]!.toLowerCase());
  return URL.canParse(`http://${s}`);
}

/** The hand-written checks, keyed by `<path> <message>` of the rule they implement. */
export const CEL_CHECKS: Record<string, Check> = {
  // Istio (WasmPlugin and TrafficExtension).
  'spec only one of targetRefs or selector can be set': (s) => ['selector', 'targetRef', 'targetRefs'].filter((f) => has(s, f)).length <= 1,
  'spec exactly one of wasm or lua must be set': (s) => has(s, 'wasm') !== has(s, 'lua'),
  'spec/selector/matchLabels wildcard not allowed in label key match': (s) => Object.keys(s as object).every((k) => !k.includes('*')),
  'spec/selector/matchLabels key must not be empty': (s) => Object.keys(s as object).every((k) => k.length !== 0),
  'spec/selector/matchLabels/{} wildcard not allowed in label value match': (s) => !String(s).includes('*'),
  'spec/targetRefs/[]/namespace cross namespace referencing is not currently supported': (s) => String(s).length === 0,
  'spec/targetRef/namespace cross namespace referencing is not currently supported': (s) => String(s).length === 0,
  'spec/wasm/url url must have schema one of [http, https, file, oci]': istioUrlScheme,
  'spec/url url must have schema one of [http, https, file, oci]': istioUrlScheme,
  'spec/wasm/vmConfig/env/[] value may only be set when valueFrom is INLINE': (s) => get(s, 'valueFrom') !== 'HOST' || !has(s, 'value'),
  'spec/vmConfig/env/[] value may only be set when valueFrom is INLINE': (s) => get(s, 'valueFrom') !== 'HOST' || !has(s, 'value'),
  // Envoy Gateway EnvoyExtensionPolicy.
  'spec either targetRef or targetRefs must be used': (s) => has(s, 'targetRef') !== has(s, 'targetRefs') || (has(s, 'targetSelectors') && (get(s, 'targetSelectors') as unknown[]).length > 0),
  'spec this policy can only have a targetRef.group of gateway.networking.k8s.io': (s) => !has(s, 'targetRef') || get(get(s, 'targetRef'), 'group') === 'gateway.networking.k8s.io',
  'spec this policy can only have a targetRef.kind of Gateway/ListenerSet/HTTPRoute/GRPCRoute/TCPRoute/UDPRoute/TLSRoute': (s) => !has(s, 'targetRef') || EG_KINDS.includes(String(get(get(s, 'targetRef'), 'kind'))),
  'spec this policy can only have a targetRefs[*].group of gateway.networking.k8s.io': (s) => !has(s, 'targetRefs') || refs(s, 'targetRefs').every((r) => r.group === 'gateway.networking.k8s.io'),
  'spec this policy can only have a targetRefs[*].kind of Gateway/ListenerSet/HTTPRoute/GRPCRoute/TCPRoute/UDPRoute/TLSRoute': (s) => !has(s, 'targetRefs') || refs(s, 'targetRefs').every((r) => EG_KINDS.includes(String(r.kind))),
  'spec mergeType can only be used with xRoute targets': (s) => !has(s, 'mergeType')
    || ((!has(s, 'targetRef') || EG_ROUTES.includes(String(get(get(s, 'targetRef'), 'kind'))))
      && (!has(s, 'targetRefs') || refs(s, 'targetRefs').every((r) => EG_ROUTES.includes(String(r.kind))))
      && (!has(s, 'targetSelectors') || refs(s, 'targetSelectors').every((r) => EG_ROUTES.includes(String(r.kind))))),
  'spec/wasm/[]/code If type is HTTP, http field needs to be set.': (s) => (get(s, 'type') === 'HTTP' ? has(s, 'http') : !has(s, 'http')),
  'spec/wasm/[]/code If type is Image, image field needs to be set.': (s) => (get(s, 'type') === 'Image' ? has(s, 'image') : !has(s, 'image')),
  'spec/wasm/[]/code/image/pullSecretRef only support Secret kind.': (s) => get(s, 'kind') === 'Secret',
  // Envoy Gateway EnvoyPatchPolicy.
  'spec/jsonPatches/[] only one of name and nameSelector can be specified': (s) => !(has(s, 'name') && has(s, 'nameSelector')),
  'spec/jsonPatches/[] either name or nameSelector must be specified': (s) => has(s, 'name') || has(s, 'nameSelector'),
};

export interface CelResult { failed: string[]; unchecked: string[]; applied: string[] }

/**
 * Runs every rule of the CRD that has a value to apply to in `object`: `failed` the rules broken, `unchecked` rules
 * that apply but have no hand-written check (a test must treat both as failures), `applied` the rules evaluated.
 * CEL's `has()` on a field is what the checks test; a default the API server would fill in is not applied first
 * (Envoy Gateway's pullSecretRef kind defaults to Secret, and the renderer sets it explicitly).
 */
export function checkCel(rules: CelRule[], object: unknown): CelResult {
  const result: CelResult = { failed: [], unchecked: [], applied: [] };
  for (const r of rules) {
    const values = valuesAt(object, r.path);
    if (values.length === 0) continue;
    const key = `${r.path.join('/')} ${r.message}`;
    const check = CEL_CHECKS[key];
    if (check === undefined) {
      result.unchecked.push(key);
      continue;
    }
    result.applied.push(key);
    if (!values.every((v) => check(v))) result.failed.push(key);
  }
  return result;
}
