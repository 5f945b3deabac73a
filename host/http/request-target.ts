// What Envoy makes of an HTTP/1.1 request line, as pure decisions: the balsa parser's checks (method, target, version),
// the codec's handlePath/checkProtocolVersion (absolute-form split into :authority and :path, CONNECT's authority,
// HTTP/1.0 refused) and the connection manager's checks before any filter (Host, relative :path, #fragment).
// Envoy defaults throughout (allow_absolute_url true, accept_http_10 false, no CONNECT upgrade, fragments rejected).
import { isIPv6 } from 'node:net';

/** A request line as sent: version is the raw token ("HTTP/1.1"), "" for HTTP/0.9 (no version). */
export interface RequestLine {
  method: string;
  target: string;
  version: string;
}

/** A request answered before any filter sees its headers. */
export interface Refusal {
  status: number;
  details: string;
  /** Envoy's body: the codec's replies carry the reason phrase, the connection manager's are empty. */
  body: string;
  /** The codec's errors and 400s close the connection (Envoy: codec protocol error, HCM onLocalReply). */
  closeConnection: boolean;
}

/** The pseudo-header values Envoy derives from the target. */
export interface Target {
  /** :path (origin-form, query kept); undefined for CONNECT, which Envoy hands on without :path. */
  path: string | undefined;
  /** :authority from the target (absolute-form, CONNECT), replacing any Host header; undefined → Host. */
  authority: string | undefined;
  /** :scheme from an absolute-form target (lower-cased). */
  scheme: string | undefined;
}

export type Verdict = { refused: Refusal } | { target: Target };

// balsa_parser.cc: the methods accepted when allow_custom_methods is off (its default).
const METHODS = new Set(['ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'MERGE',
  'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'MSEARCH', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH',
  'PURGE', 'PUT', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK',
  'UNSUBSCRIBE']);

const refuse = (status: number, details: string, body: string, closeConnection: boolean): Verdict =>
  ({ refused: { status, details, body, closeConnection } });
/** ServerConnectionImpl::sendProtocolError: the code's reason phrase as body; the connection is closed. */
const codecError = (details: string) => refuse(400, details, 'Bad Request', true);

const pathChar = (code: number) => code === 9 || code === 12 || (code >= 0x21 && code <= 0x7e);
const BALSA_HOST_CHAR = /^[A-Za-z0-9!$%&'()*+,\-.:;=@[\]_~]*$/;

/** balsa_parser.cc isUrlValid (crafted after http-parser): the characters a target may have, by form. */
function balsaUrlValid(url: string, isConnect: boolean): boolean {
  if (url.length === 0) return false;
  const allPath = (s: string) => [...s].every((c) => pathChar(c.charCodeAt(0)));
  if (url[0] === '/' || url[0] === '*') return allPath(url.slice(1));
  let rest = url;
  if (!isConnect) {
    const scheme = /^[A-Za-z][A-Za-z0-9+\-.]*/.exec(url);
    if (scheme === null || !url.startsWith('://', scheme[0].length)) return false;
    rest = url.slice(scheme[0].length + 3);
  }
  const cut = rest.search(/[/?]/);
  const host = cut < 0 ? rest : rest.slice(0, cut);
  const pathQuery = cut < 0 ? '' : rest.slice(cut);
  return BALSA_HOST_CHAR.test(host) && !host.includes('@@') && allPath(pathQuery);
}

/** balsa_parser.cc isVersionValid: "HTTP/d.d", or nothing (HTTP/0.9). */
export function versionSyntaxValid(version: string): boolean {
  return version === '' || /^HTTP\/\d\.\d$/.test(version);
}

const USERINFO = /^[A-Za-z0-9\-_.!~*'()%;:&=+$,]*$/;
const HOSTNAME = /^[A-Za-z0-9.\-_]+$/;

/**
 * http-parser's http_parse_host, which Envoy's Utility::Url::initialize relies on: [userinfo@]host[:port] with a
 * non-empty hostname (or a bracketed IPv6 address) and a decimal port up to 65535. Returns the host and port as
 * Envoy keeps it (userinfo dropped, brackets kept), or undefined when invalid.
 */
function hostAndPort(authority: string, needPort: boolean): string | undefined {
  const at = authority.indexOf('@');
  if (at >= 0 && !USERINFO.test(authority.slice(0, at))) return undefined;
  const hp = at >= 0 ? authority.slice(at + 1) : authority;
  let port: string | undefined;
  if (hp.startsWith('[')) {
    const close = hp.indexOf(']');
    if (close < 0 || !isIPv6(hp.slice(1, close))) return undefined;
    const after = hp.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return undefined;
    port = after === '' ? undefined : after.slice(1);
  } else {
    const colon = hp.indexOf(':');
    const name = colon < 0 ? hp : hp.slice(0, colon);
    if (!HOSTNAME.test(name)) return undefined;
    port = colon < 0 ? undefined : hp.slice(colon + 1);
  }
  if (port !== undefined && (!/^\d+$/.test(port) || Number(port) > 0xffff)) return undefined;
  if (needPort && port === undefined) return undefined;
  return hp;
}

/** Utility::Url::initialize for an absolute-form target: scheme (letters only, as http-parser reads it), authority, rest. */
function parseAbsolute(url: string): { scheme: string; authority: string; pathAndQuery: string } | undefined {
  const m = /^([A-Za-z]+):\/\/([^/?#]*)(.*)$/s.exec(url);
  if (m === null) return undefined;
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  // http-parser refuses '#' straight after the authority; a fragment may follow a path or query.
  if (rest.startsWith('#')) return undefined;
  const hp = hostAndPort(authority, false);
  if (hp === undefined) return undefined;
  // Envoy keeps everything after host[:port] verbatim as :path ("?q" stays "?q"); no path at all is "/".
  return { scheme, authority: hp, pathAndQuery: rest === '' ? '/' : rest };
}

/**
 * The codec's reading of the request line (balsa parser, then ServerConnectionImpl::handlePath and
 * checkProtocolVersion), in Envoy's order: method, target characters, version syntax (400 http1.codec_error); target
 * form (400 http1.invalid_url / http1.invalid_scheme); anything but HTTP/1.1 (426 low_version).
 */
export function readRequestLine(line: RequestLine): Verdict {
  const { method, target, version } = line;
  if (!METHODS.has(method)) return codecError('http1.codec_error');
  const isConnect = method === 'CONNECT';
  if (!balsaUrlValid(target, isConnect) || !versionSyntaxValid(version)) return codecError('http1.codec_error');
  let parsed: Target;
  if (!isConnect && (target[0] === '/' || (method === 'OPTIONS' && target[0] === '*'))) {
    parsed = { path: target, authority: undefined, scheme: undefined };
  } else if (isConnect) {
    // CONNECT takes exactly host:port (http-parser in CONNECT mode); it becomes Host, and there is no :path.
    const hp = hostAndPort(target, true);
    if (hp === undefined || target.includes('@')) return codecError('http1.invalid_url');
    parsed = { path: undefined, authority: hp, scheme: undefined };
  } else {
    // RFC 9112 §3.2.2: a server receiving absolute-form ignores Host and takes the authority from the target.
    const abs = parseAbsolute(target);
    if (abs === undefined) return codecError('http1.invalid_url');
    const scheme = abs.scheme.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') return codecError('http1.invalid_scheme');
    // https over plaintext is refused only with validate_scheme (edge: use_remote_address and no trusted hops).
    parsed = { path: abs.pathAndQuery, authority: abs.authority, scheme };
  }
  if (version !== 'HTTP/1.1') return refuse(426, 'low_version', 'Upgrade Required', true);
  return { target: parsed };
}

/**
 * The whole decision before the filter chain: the codec's (readRequestLine), then the connection manager's
 * (ConnectionManagerImpl::ActiveStream::decodeHeaders): a Host is required (400 missing_host_header), :path must be
 * relative (404 absolute_path_rejected, e.g. OPTIONS *), and a #fragment is refused (400 path_normalization_failed,
 * Envoy's default http_reject_path_with_fragment).
 */
export function checkRequest(line: RequestLine, hostHeader: string | undefined): Verdict {
  const codec = readRequestLine(line);
  if ('refused' in codec) return codec;
  const { target } = codec;
  if (target.authority === undefined && hostHeader === undefined) return refuse(400, 'missing_host_header', '', true);
  if (target.path !== undefined && target.path[0] !== '/') return refuse(404, 'absolute_path_rejected', '', false);
  if (target.path?.includes('#') === true) return refuse(400, 'path_normalization_failed', '', true);
  return codec;
}

/** The request line at the start of raw bytes (what node's parser refused), or undefined when there is none. */
export function requestLineOf(raw: string): RequestLine | undefined {
  const end = raw.search(/\r?\n/);
  if (end < 0) return undefined;
  const parts = raw.slice(0, end).split(' ');
  if (parts.length === 2) return { method: parts[0]!, target: parts[1]!, version: '' };
  if (parts.length === 3) return { method: parts[0]!, target: parts[1]!, version: parts[2]! };
  return undefined;
}

/**
 * What Envoy answers for a request node's parser refused (node error code, raw bytes): a well-formed request line
 * with a version other than HTTP/1.1 is Envoy's 426 (node refuses HTTP/1.2, 3.0…), oversized headers its 431, and
 * anything else its 400 http1.codec_error.
 */
export function parseErrorRefusal(code: string, raw: string): Refusal {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, details: 'http1.headers_too_large', body: 'Request Header Fields Too Large', closeConnection: true };
  }
  const line = requestLineOf(raw);
  if (code === 'HPE_INVALID_VERSION' && line !== undefined) {
    const codec = readRequestLine(line);
    if ('refused' in codec) return codec.refused;
  }
  return { status: 400, details: 'http1.codec_error', body: 'Bad Request', closeConnection: true };
}
