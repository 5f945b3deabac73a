// The one canonical-JSON printer, for every public format: compact, object keys sorted (code-unit order) at every
// level, arrays in order. It is what Istio makes of a WasmPlugin's pluginConfig (a google.protobuf.Struct) before Envoy
// hands it to the filter, and it makes a content hash a stable version. Written by hand because it is a dozen lines
// and must match that one behaviour exactly; stable-stringify packages are only transitive dependencies here.

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonicalJson: a non-finite number is not JSON');
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
      throw new TypeError(`canonicalJson: ${typeof value} is not JSON`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}
