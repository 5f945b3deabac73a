// The pure request-target decisions (host/http/request-target.ts) against what Envoy's HTTP/1 codec (balsa parser,
// handlePath, checkProtocolVersion) and connection manager do with each form of target, at Envoy's defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRequest, parseErrorRefusal, readRequestLine, requestLineOf, type Verdict } from '../../../host/http/request-target.js';

const line = (method: string, target: string, version = 'HTTP/1.1') => ({ method, target, version });
const refusal = (v: Verdict) => ('refused' in v ? [v.refused.status, v.refused.details] : v.target);

test('request target: origin-form passes as :path with its query; Host stays the authority', () => {
  assert.deepEqual(checkRequest(line('GET', '/orders?x=1&y'), 'shop'), { target: { path: '/orders?x=1&y', authority: undefined, scheme: undefined } });
});

test('request target: absolute-form is split into :authority (replacing Host), :path (query kept) and :scheme', () => {
  assert.deepEqual(checkRequest(line('GET', 'http://x/orders'), 'x'), { target: { path: '/orders', authority: 'x', scheme: 'http' } });
  assert.deepEqual(checkRequest(line('GET', 'http://api.local:8080/p?q=1'), 'other'), { target: { path: '/p?q=1', authority: 'api.local:8080', scheme: 'http' } });
  // No Host needed: the target carries the authority.
  assert.deepEqual(refusal(checkRequest(line('GET', 'http://x/orders'), undefined)), { path: '/orders', authority: 'x', scheme: 'http' });
  // https over plaintext is accepted (validate_scheme is off unless the listener is an edge one) and lower-cased.
  assert.deepEqual(refusal(checkRequest(line('GET', 'HTTPS://X:443/a'), 'y')), { path: '/a', authority: 'X:443', scheme: 'https' });
  // No path → "/"; userinfo dropped; IPv6 keeps its brackets.
  assert.deepEqual(refusal(checkRequest(line('GET', 'http://x'), 'y')), { path: '/', authority: 'x', scheme: 'http' });
  assert.deepEqual(refusal(checkRequest(line('GET', 'http://user:pw@x/a'), 'y')), { path: '/a', authority: 'x', scheme: 'http' });
  assert.deepEqual(refusal(checkRequest(line('GET', 'http://[::1]:80/a'), 'y')), { path: '/a', authority: '[::1]:80', scheme: 'http' });
});

test('request target: bad absolute-form URLs are the codec\'s 400s', () => {
  for (const target of ['http:///a', 'http://:80/a', 'http://x:/a', 'http://x:99999/a', 'http://x:8a/', 'http://a@b@c/', 'h2c://x/', 'http://[zz]/a']) {
    assert.deepEqual(refusal(checkRequest(line('GET', target), 'y')), [400, 'http1.invalid_url'], target);
  }
  assert.deepEqual(refusal(checkRequest(line('GET', 'ftp://x/a'), 'y')), [400, 'http1.invalid_scheme']);
  // Characters balsa refuses in the authority, a scheme without "//", a non-URL word: the parser's own 400.
  for (const target of ['http:/x/a', 'http://x#f', 'http://x<y/', 'orders', 'http://x/a\u007f']) {
    assert.deepEqual(refusal(checkRequest(line('GET', target), 'y')), [400, 'http1.codec_error'], target);
  }
  const bad = checkRequest(line('GET', 'orders'), 'y');
  assert.ok('refused' in bad && bad.refused.body === 'Bad Request' && bad.refused.closeConnection);
});

test('request target: after the codec, the connection manager wants a relative :path, no #fragment, and a Host', () => {
  // "http://x?q": Envoy keeps everything after the authority, "?q", which is not a relative path.
  assert.deepEqual(refusal(checkRequest(line('GET', 'http://x?q'), 'y')), [404, 'absolute_path_rejected']);
  assert.deepEqual(refusal(checkRequest(line('GET', '/a#frag'), 'y')), [400, 'path_normalization_failed']);
  assert.deepEqual(refusal(checkRequest(line('GET', 'http://x/a?b#c'), 'y')), [400, 'path_normalization_failed']);
  const noHost = checkRequest(line('GET', '/a'), undefined);
  assert.deepEqual(refusal(noHost), [400, 'missing_host_header']);
  assert.ok('refused' in noHost && noHost.refused.body === '' && noHost.refused.closeConnection, 'a 400 closes the HTTP/1 connection');
  assert.deepEqual(refusal(checkRequest(line('GET', '/a'), '')), { path: '/a', authority: undefined, scheme: undefined }, 'an empty Host is present');
});

test('request target: asterisk-form is OPTIONS-only in the codec, and the connection manager then refuses it (404)', () => {
  const options = checkRequest(line('OPTIONS', '*'), 'x');
  assert.deepEqual(refusal(options), [404, 'absolute_path_rejected']);
  assert.ok('refused' in options && !options.refused.closeConnection && options.refused.body === '');
  assert.deepEqual(readRequestLine(line('OPTIONS', '*')), { target: { path: '*', authority: undefined, scheme: undefined } });
  assert.deepEqual(refusal(checkRequest(line('GET', '*'), 'x')), [400, 'http1.invalid_url']);
  assert.deepEqual(refusal(checkRequest(line('DELETE', '*foo'), 'x')), [400, 'http1.invalid_url']);
});

test('request target: CONNECT takes exactly host:port as the authority and has no :path', () => {
  assert.deepEqual(checkRequest(line('CONNECT', 'x:443'), undefined), { target: { path: undefined, authority: 'x:443', scheme: undefined } });
  assert.deepEqual(refusal(checkRequest(line('CONNECT', '[::1]:8443'), 'h')), { path: undefined, authority: '[::1]:8443', scheme: undefined });
  for (const target of ['x', '/a', 'x:443/', 'u@x:443', 'http://x:443']) {
    assert.deepEqual(refusal(checkRequest(line('CONNECT', target), 'h')), [400, 'http1.invalid_url'], target);
  }
});

test('request target: only HTTP/1.1 is served — HTTP/1.0, 0.9, 1.2, 2.0 get 426; a malformed version is a 400', () => {
  for (const version of ['HTTP/1.0', '', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/3.0']) {
    const v = checkRequest(line('GET', '/a', version), undefined);
    assert.deepEqual(refusal(v), [426, 'low_version'], version);
    assert.ok('refused' in v && v.refused.body === 'Upgrade Required' && v.refused.closeConnection);
  }
  for (const version of ['HTTP/1.10', 'HTTP/1', 'FOO', 'http/1.1']) {
    assert.deepEqual(refusal(checkRequest(line('GET', '/a', version), 'x')), [400, 'http1.codec_error'], version);
  }
  // The target is judged before the version (handlePath precedes checkProtocolVersion).
  assert.deepEqual(refusal(checkRequest(line('GET', '*', 'HTTP/1.0'), 'x')), [400, 'http1.invalid_url']);
});

test('request target: methods outside balsa\'s list are refused by the parser', () => {
  for (const method of ['M-SEARCH', 'QUERY', 'get', 'PRI']) {
    assert.deepEqual(refusal(checkRequest(line(method, '/a'), 'x')), [400, 'http1.codec_error'], method);
  }
  assert.deepEqual(refusal(checkRequest(line('PURGE', '/a'), 'x')), { path: '/a', authority: undefined, scheme: undefined });
});

test('request target: a request node\'s parser refused gets Envoy\'s answer', () => {
  assert.deepEqual(requestLineOf('GET / HTTP/1.2\r\nHost: x\r\n\r\n'), line('GET', '/', 'HTTP/1.2'));
  assert.deepEqual(requestLineOf('GET /\r\n'), line('GET', '/', ''));
  assert.equal(requestLineOf('GET / HTTP/1.1'), undefined, 'no complete line');
  assert.deepEqual([parseErrorRefusal('HPE_INVALID_VERSION', 'GET / HTTP/1.2\r\n\r\n')].map((r) => [r.status, r.details]), [[426, 'low_version']]);
  assert.deepEqual([parseErrorRefusal('HPE_INVALID_VERSION', 'GET * HTTP/3.0\r\n\r\n')].map((r) => [r.status, r.details]), [[400, 'http1.invalid_url']]);
  assert.deepEqual([parseErrorRefusal('HPE_INVALID_VERSION', 'GET / HTTP/1.10\r\n\r\n')].map((r) => [r.status, r.details]), [[400, 'http1.codec_error']]);
  assert.deepEqual([parseErrorRefusal('HPE_INVALID_URL', 'GET orders HTTP/1.1\r\n\r\n')].map((r) => [r.status, r.details]), [[400, 'http1.codec_error']]);
  assert.deepEqual([parseErrorRefusal('HPE_HEADER_OVERFLOW', '')].map((r) => [r.status, r.details]), [[431, 'http1.headers_too_large']]);
});
