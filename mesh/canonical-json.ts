// What Istio makes of a WasmPlugin's pluginConfig before Envoy hands it to the filter: a google.protobuf.Struct
// printed as compact JSON with object keys sorted. Written by hand because it is a dozen lines and must match that
// one behaviour exactly (no spaces, code-unit key order, arrays left in order); the stable-stringify packages are
// only transitive dependencies here.

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('pluginConfig holds a non-finite number');
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
      throw new TypeError(`pluginConfig holds a value JSON cannot carry (${typeof value})`);
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
