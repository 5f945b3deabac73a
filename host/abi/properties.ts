// get_property: NUL-separated paths resolved the way Envoy's CEL attributes are, with Envoy's value encodings
// (strings raw, integers int64 LE, booleans one byte, timestamps int64 ns, maps in header-pair format).
import { serializePairs } from './pairs.js';
import type { ContextRecord } from '../runtime/stream-state.js';

export type PropertyValue = string | number | boolean | Uint8Array;

export interface PropertySources {
  pluginName: string;
  rootId: string;
  vmId: string;
  /** Host-wide properties (xds.node.id, …), keyed by the '.'-joined path. */
  statics: Record<string, PropertyValue>;
}

const utf8 = new TextEncoder();

export function encodeValue(v: PropertyValue): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return utf8.encode(v);
  if (typeof v === 'boolean') return new Uint8Array([v ? 1 : 0]);
  return int64(BigInt(Math.trunc(v)));
}

function int64(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, v, true);
  return out;
}

function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return at < 0 ? [address, 0] : [address.slice(0, at), Number(address.slice(at + 1))];
}

/** Splits the guest's path bytes on NUL; a trailing NUL (some SDKs add one) does not make an extra segment. */
export function splitPath(raw: string): string[] {
  const parts = raw.split('\0');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export function resolveProperty(path: string[], ctx: ContextRecord | undefined, src: PropertySources): Uint8Array | undefined {
  const joined = path.join('.');
  // Host-wide properties are keyed by the '.'-joined path, but a single dotted segment is not a path to Envoy.
  const stat = path.length > 1 || !joined.includes('.') ? src.statics[joined] : undefined;
  if (stat !== undefined) return encodeValue(stat);
  const [root, ...rest] = path;
  if (root === 'plugin_name' && rest.length === 0) return encodeValue(src.pluginName);
  if (root === 'plugin_root_id' && rest.length === 0) return encodeValue(src.rootId);
  if (root === 'plugin_vm_id' && rest.length === 0) return encodeValue(src.vmId);
  const stream = ctx?.stream;
  if (stream === undefined) return undefined; // request.*, source.* … have no stream info in root contexts
  const requestHeaders = stream.maps[0]?.pairs ?? [];
  const header = (name: string) => requestHeaders.find(([k]) => k === name)?.[1];
  const pathValue = header(':path') ?? stream.info.originalPath;
  const q = pathValue.indexOf('?');
  const [, srcPort] = splitHostPort(stream.info.source);
  if (root === 'request') {
    const [field, name] = rest;
    if (field === 'headers' && name !== undefined && rest.length === 2) {
      const v = header(name.toLowerCase());
      return v === undefined ? undefined : encodeValue(v);
    }
    if (rest.length !== 1) return undefined;
    switch (field) {
      case 'path': return encodeValue(pathValue);
      case 'url_path': return encodeValue(q < 0 ? pathValue : pathValue.slice(0, q));
      case 'query': return encodeValue(q < 0 ? '' : pathValue.slice(q + 1));
      case 'host': return encodeValue(header(':authority') ?? stream.info.originalAuthority);
      case 'method': return encodeValue(header(':method') ?? stream.info.originalMethod);
      case 'scheme': return encodeValue(header(':scheme') ?? stream.info.scheme);
      case 'headers': return serializePairs(requestHeaders);
      case 'id': return encodeValue(header('x-request-id') ?? stream.info.id);
      case 'protocol': return encodeValue(stream.info.protocol);
      case 'time': return int64(BigInt(Math.floor(stream.info.startMs)) * 1_000_000n);
      case 'size': return encodeValue(stream.requestBodySize);
      case 'referer': { const v = header('referer'); return v === undefined ? undefined : encodeValue(v); }
      case 'useragent': { const v = header('user-agent'); return v === undefined ? undefined : encodeValue(v); }
      default: return undefined;
    }
  }
  if (root === 'response' && rest.length === 1) {
    if (rest[0] === 'code' && stream.responseCode !== undefined) return encodeValue(stream.responseCode);
    if (rest[0] === 'code_details' && stream.responseDetails !== undefined) return encodeValue(stream.responseDetails);
    if (rest[0] === 'headers' && stream.maps[2] !== undefined) return serializePairs(stream.maps[2].pairs);
    return undefined;
  }
  if (root === 'source' && rest.length === 1) {
    if (rest[0] === 'address') return encodeValue(stream.info.source);
    if (rest[0] === 'port') return encodeValue(srcPort);
    return undefined;
  }
  if (root === 'destination' && rest.length === 1) {
    if (rest[0] === 'address') return encodeValue(stream.info.destination);
    if (rest[0] === 'port') return encodeValue(splitHostPort(stream.info.destination)[1]);
    return undefined;
  }
  if (root === 'connection' && rest.length === 1) {
    // Plain-text listener: no TLS, so no SNI and no peer certificate (host-wide properties can say otherwise).
    if (rest[0] === 'mtls') return encodeValue(false);
    if (rest[0] === 'requested_server_name') return encodeValue('');
    return undefined;
  }
  if (root === 'request' || root === 'response' || root === 'source' || root === 'connection' || root === 'destination') return undefined;
  // Anything else may be filter state set by set_property (bytes: no sub-paths).
  return rest.length === 0 && root !== undefined ? stream.filterState.get(`wasm.${root}`) : undefined;
}
