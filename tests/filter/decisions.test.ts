// What a client and the upstream see: 401/403/429/pass-through, problem bodies, header stripping, identity
// injection, credential hiding, and the host-call budget of an authorized request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigRejectedError } from '../../host/index.js';
import { baseConfig, digest, header, headerAll, startHost, T0, type Harness } from './harness.js';

function problem(body: Uint8Array): { type: string; status: number } {
  return JSON.parse(new TextDecoder().decode(body)) as { type: string; status: number };
}

describe('filter decisions', () => {
  let h: Harness;
  before(async () => {
    const cfg = baseConfig([{ requests: 2, per: 'minute' }]);
    cfg.keys.push([digest('key-admin-plan'), 'key_nope', 'con_other', 0]);
    cfg.keys.push([digest('a+b c/é'), 'key_weird', 'con_weird', 0]);
    cfg.keys.push([digest('key-budget'), 'key_budget', 'con_budget', 0]);
    h = await startHost(cfg);
  });
  after(async () => h.host.close());

  it('passes a request matching no API untouched (no identity, no key check)', async () => {
    const r = await h.host.request({ method: 'GET', path: '/public/x?api_key=zzz', headers: { 'x-api-key': 'bogus' } });
    assert.equal(r.status, 200);
    assert.equal(r.localReply, false);
    assert.equal(r.upstreamRequest?.path, '/public/x?api_key=zzz');
    assert.equal(header(r.upstreamRequest!.headers, 'x-api-key'), 'bogus');
  });

  it('strips forged identity headers even on unmatched routes', async () => {
    const r = await h.host.request({ method: 'GET', path: '/public', headers: { 'x-tollgate-consumer': 'root' } });
    assert.equal(r.status, 200);
    assert.equal(header(r.upstreamRequest!.headers, 'x-tollgate-consumer'), undefined);
  });

  it('401 missing-key as problem+json when no key is presented', async () => {
    const r = await h.host.request({ method: 'GET', path: '/orders/1' });
    assert.equal(r.status, 401);
    assert.equal(r.localReply, true);
    assert.equal(r.upstreamRequest, undefined);
    assert.deepEqual(problem(r.body), { type: 'urn:tollgate:problem:missing-key', title: 'API key required', status: 401 });
    assert.ok(headerAll(r.headers, 'content-type').includes('application/problem+json'));
  });

  it('401 invalid-key for unknown, expired, not-yet-valid and over-long keys, never echoing the key', async () => {
    for (const key of ['key-unknown', 'key-expired', 'key-future', 'k'.repeat(257)]) {
      const r = await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': key } });
      assert.equal(r.status, 401, key.slice(0, 20));
      assert.equal(problem(r.body).type, 'urn:tollgate:problem:invalid-key');
      assert.ok(!new TextDecoder().decode(r.body).includes(key));
    }
  });

  it('401 invalid-key for malformed percent-encoding in the query key', async () => {
    const r = await h.host.request({ method: 'GET', path: '/orders/1?api_key=%zz' });
    assert.equal(r.status, 401);
    assert.equal(problem(r.body).type, 'urn:tollgate:problem:invalid-key');
  });

  it('403 forbidden when the plan lacks the API', async () => {
    const r = await h.host.request({ method: 'GET', path: '/admin/x', headers: { 'x-api-key': 'key-alpha' } });
    assert.equal(r.status, 403);
    assert.equal(problem(r.body).type, 'urn:tollgate:problem:forbidden');
  });

  it('allows, injects identity, hides the header key and strips forged identity', async () => {
    const r = await h.host.request({
      method: 'GET', path: '/orders/7?x=1', authority: 'Shop.Example:8080',
      headers: { 'x-api-key': 'key-weird-not', 'x-tollgate-key-id': 'forged' },
    });
    assert.equal(r.status, 401);
    const ok = await h.host.request({
      method: 'POST', path: '/orders/7?x=1',
      headers: { 'x-api-key': 'a+b c/é', 'x-tollgate-key-id': 'forged', 'x-tollgate-plan': 'forged', 'x-other': 'kept' },
    });
    assert.equal(ok.status, 200);
    const up = ok.upstreamRequest!;
    assert.equal(header(up.headers, 'x-api-key'), undefined);
    assert.deepEqual(headerAll(up.headers, 'x-tollgate-key-id'), ['key_weird']);
    assert.deepEqual(headerAll(up.headers, 'x-tollgate-consumer'), ['con_weird']);
    assert.deepEqual(headerAll(up.headers, 'x-tollgate-plan'), ['pln_gold']);
    assert.equal(header(up.headers, 'x-other'), 'kept');
    assert.equal(up.path, '/orders/7?x=1');
  });

  it('reads a percent-encoded query key and removes only that parameter', async () => {
    const r = await h.host.request({ method: 'GET', path: '/orders/7?a=1&api_key=a%2Bb+c%2F%C3%A9&b=%20' });
    assert.equal(r.status, 200);
    assert.equal(r.upstreamRequest?.path, '/orders/7?a=1&b=%20');
    assert.equal(header(r.upstreamRequest!.headers, 'x-tollgate-key-id'), 'key_weird');
  });

  it('429 quota-exceeded with Retry-After and RateLimit-* once the limit is used up', async () => {
    const first = await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'key-alpha' } });
    assert.equal(first.status, 200);
    assert.equal(header(first.headers, 'ratelimit-limit'), '2');
    assert.equal(header(first.headers, 'ratelimit-remaining'), '1');
    assert.equal(header(first.headers, 'ratelimit-reset'), '60');
    const second = await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'key-alpha' } });
    assert.equal(header(second.headers, 'ratelimit-remaining'), '0');
    const third = await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'key-alpha' } });
    assert.equal(third.status, 429);
    assert.equal(problem(third.body).type, 'urn:tollgate:problem:quota-exceeded');
    assert.equal(header(third.headers, 'retry-after'), '60');
    assert.equal(header(third.headers, 'ratelimit-limit'), '2');
    assert.equal(header(third.headers, 'ratelimit-remaining'), '0');
    assert.equal(header(third.headers, 'ratelimit-reset'), '60');
    assert.equal(third.upstreamRequest, undefined);
  });

  it('an authorized request stays within the host-call budget (≤ 8, ≤ 2 shared-data calls)', async () => {
    const r = await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'key-weird-x' } });
    assert.equal(r.status, 401);
    const ok = await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'key-budget' } });
    assert.equal(ok.status, 200);
    const total = Object.values(ok.hostCalls).reduce((a, b) => a + b, 0);
    assert.ok(total <= 8, JSON.stringify(ok.hostCalls));
    assert.ok((ok.hostCalls.proxy_get_shared_data ?? 0) + (ok.hostCalls.proxy_set_shared_data ?? 0) <= 2);
  });

  it('pushes allowed/denied counters to Envoy metrics on the tick', async () => {
    const value = (name: string): number => h.host.metrics().find((m) => m.name === name)?.value ?? 0;
    assert.equal(value('tollgate_allowed'), 0, 'nothing is pushed before the first tick');
    await h.host.request({ method: 'GET', path: '/orders/1', headers: { 'x-api-key': 'key-budget' } });
    await h.host.advance(5000);
    // Everything this suite did so far, summed over the workers.
    assert.equal(value('tollgate_allowed'), 6);
    assert.equal(value('tollgate_denied_auth'), 8);
    assert.equal(value('tollgate_denied_forbidden'), 1);
    assert.equal(value('tollgate_denied_quota'), 1);
  });

  it('never trapped', () => {
    assert.equal(h.host.stats().vmFailures, 0);
  });
});

describe('key locations, prefixes and switches', () => {
  it('Bearer prefix (case-insensitive), hideCredentials=false keeps the credential, disabled identity header', async () => {
    const cfg = baseConfig();
    cfg.keyLocations = [{ header: 'authorization', prefix: 'Bearer ' }, { query: 'k' }];
    cfg.hideCredentials = false;
    cfg.identityHeaders = { consumer: '', keyId: 'x-kid' };
    cfg.rateLimitHeaders = false;
    const h = await startHost(cfg);
    try {
      const r = await h.host.request({ method: 'GET', path: '/orders?k=zzz', headers: { authorization: 'bearer key-alpha' } });
      assert.equal(r.status, 200);
      const up = r.upstreamRequest!;
      assert.equal(header(up.headers, 'authorization'), 'bearer key-alpha');
      assert.equal(header(up.headers, 'x-kid'), 'key_alpha');
      assert.equal(header(up.headers, 'x-tollgate-consumer'), undefined);
      assert.equal(header(up.headers, 'x-tollgate-plan'), 'pln_gold');
      assert.equal(header(r.headers, 'ratelimit-limit'), undefined);
      const basic = await h.host.request({ method: 'GET', path: '/orders', headers: { authorization: 'Basic key-alpha' } });
      assert.equal(basic.status, 401);
      const q = await h.host.request({ method: 'GET', path: '/orders?k=key-alpha' });
      assert.equal(q.status, 200);
      assert.equal(q.upstreamRequest?.path, '/orders?k=key-alpha');
    } finally {
      await h.host.close();
    }
  });

  it('hideCredentials removes the Bearer credential but keeps other Authorization schemes', async () => {
    const cfg = baseConfig();
    cfg.keyLocations = [{ query: 'k' }, { header: 'authorization', prefix: 'Bearer ' }];
    const h = await startHost(cfg);
    try {
      const r = await h.host.request({ method: 'GET', path: '/orders', headers: { authorization: 'Bearer key-alpha' } });
      assert.equal(r.status, 200);
      assert.equal(header(r.upstreamRequest!.headers, 'authorization'), undefined);
      const q = await h.host.request({ method: 'GET', path: '/orders?k=key-alpha&z=1', headers: { authorization: 'Basic abc' } });
      assert.equal(q.status, 200);
      assert.equal(q.upstreamRequest?.path, '/orders?z=1');
      assert.equal(header(q.upstreamRequest!.headers, 'authorization'), 'Basic abc');
    } finally {
      await h.host.close();
    }
  });

  it('hideCredentials removes the key from the header AND the query parameter when both are sent', async () => {
    const h = await startHost(baseConfig());
    try {
      // Key taken from the header (first location); the query copy, even a different value, must not leak either.
      const r = await h.host.request({
        method: 'GET', path: '/orders/1?a=1&api_key=key-alpha&api_key=other-secret&b=2#frag',
        headers: { 'x-api-key': 'key-alpha' },
      });
      assert.equal(r.status, 200);
      const up = r.upstreamRequest!;
      assert.equal(header(up.headers, 'x-api-key'), undefined);
      assert.equal(up.path, '/orders/1?a=1&b=2#frag');
      assert.equal(header(up.headers, 'x-tollgate-key-id'), 'key_alpha');
      // Key taken from the query alone: nothing of it is left in the rewritten path.
      const q = await h.host.request({ method: 'GET', path: '/orders/1?api_key=key-alpha' });
      assert.equal(q.status, 200);
      assert.equal(q.upstreamRequest?.path, '/orders/1');
      assert.ok(!JSON.stringify(q.upstreamRequest).includes('key-alpha'));
      assert.ok(!JSON.stringify(up).includes('key-alpha') && !JSON.stringify(up).includes('other-secret'));
      // An encoded parameter name is the same parameter to the upstream's query parser: it is read and removed too.
      const e = await h.host.request({ method: 'GET', path: '/orders/1?api%5Fkey=key-alpha&b=2', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(e.status, 200);
      assert.equal(e.upstreamRequest?.path, '/orders/1?b=2');
      const only = await h.host.request({ method: 'GET', path: '/orders/1?%61pi_key=key-alpha' });
      assert.equal(only.status, 200);
      assert.equal(only.upstreamRequest?.path, '/orders/1');
    } finally {
      await h.host.close();
    }
  });

  it('a 256-byte key is accepted (raw or fully percent-encoded), 257 bytes are refused, and upstream RateLimit-* are replaced', async () => {
    const k256 = 'k'.repeat(256);
    const cfg = baseConfig();
    cfg.keys.push([digest(k256), 'key_long', 'con_long', 0]);
    const h = await startHost(cfg);
    try {
      const upstream = (): { status: number; headers: Array<[string, string]> } =>
        ({ status: 200, headers: [['ratelimit-limit', '999999'], ['ratelimit-remaining', 'x']] });
      const raw = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': k256 } }, upstream);
      assert.equal(raw.status, 200);
      assert.deepEqual(headerAll(raw.headers, 'ratelimit-limit'), ['100']);
      assert.deepEqual(headerAll(raw.headers, 'ratelimit-remaining'), ['99']);
      const encoded = '%6B'.repeat(256); // 768 bytes on the wire, 256 decoded
      const q = await h.host.request({ method: 'GET', path: `/orders?api_key=${encoded}` });
      assert.equal(q.status, 200);
      assert.equal(header(q.upstreamRequest!.headers, 'x-tollgate-key-id'), 'key_long');
      for (const req of [
        { method: 'GET', path: '/orders', headers: { 'x-api-key': k256 + 'k' } },
        { method: 'GET', path: `/orders?api_key=${encoded}%6B` },
        { method: 'GET', path: `/orders?api_key=${'k'.repeat(300)}` },
      ]) {
        const r = await h.host.request(req);
        assert.equal(r.status, 401, req.path.slice(0, 30));
        assert.equal(problem(r.body).type, 'urn:tollgate:problem:invalid-key');
      }
    } finally {
      await h.host.close();
    }
  });

  it('notBefore and expiresAt bound a key to [notBefore, expiresAt) on the clock', async () => {
    const cfg = baseConfig();
    const t0 = T0 / 1000;
    cfg.keys.push([digest('key-window'), 'key_window', 'con_w', 0, t0 + 20, t0 + 10]);
    const h = await startHost(cfg);
    const call = async (): Promise<number> =>
      (await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-window' } })).status;
    try {
      assert.equal(await call(), 401, 'not yet valid');
      await h.host.advance(9_000);
      assert.equal(await call(), 401, 'one second before notBefore');
      await h.host.advance(1_000);
      assert.equal(await call(), 200, 'at notBefore');
      await h.host.advance(9_000);
      assert.equal(await call(), 200, 'one second before expiresAt');
      await h.host.advance(1_000);
      assert.equal(await call(), 401, 'at expiresAt');
    } finally {
      await h.host.close();
    }
  });

  it('matches on the normalized path: escaped or doubled spellings need the key, dot segments are refused', async () => {
    const h = await startHost(baseConfig());
    try {
      for (const path of ['/%6Frders/1', '//orders/1', '/orders%2F1', '/%6frders']) {
        const r = await h.host.request({ method: 'GET', path });
        assert.equal(r.status, 401, `${path} is /orders: a key is required`);
      }
      const ok = await h.host.request({ method: 'GET', path: '/%6Frders/1?x=1', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.upstreamRequest?.path, '/%6Frders/1?x=1', 'the upstream gets the path as sent');
      for (const path of ['/orders/../admin', '/orders/%2e%2e/admin', '/public/./x', '/orders%2F..%2Fadmin?api_key=key-alpha']) {
        const r = await h.host.request({ method: 'GET', path, headers: { 'x-api-key': 'key-alpha' } });
        assert.equal(r.status, 400, path);
        assert.equal(problem(r.body).type, 'urn:tollgate:problem:bad-request');
        assert.equal(r.upstreamRequest, undefined);
      }
    } finally {
      await h.host.close();
    }
  });

  it('denyUnmatched answers 403 for routes matching no API', async () => {
    const cfg = baseConfig();
    cfg.denyUnmatched = true;
    const h = await startHost(cfg);
    try {
      const r = await h.host.request({ method: 'GET', path: '/elsewhere' });
      assert.equal(r.status, 403);
      assert.equal(problem(r.body).type, 'urn:tollgate:problem:forbidden');
      // A method the API does not list is not "unmatched": the path is protected (key first, then 405 with Allow).
      const wrongMethod = await h.host.request({ method: 'DELETE', path: '/orders/1', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(wrongMethod.status, 405);
      assert.equal(header(wrongMethod.headers, 'allow'), 'GET, POST');
    } finally {
      await h.host.close();
    }
  });
});

describe('configuration rejection', () => {
  it('rejects an invalid configuration with one log line naming the field, keeping the previous one', async () => {
    const h = await startHost(baseConfig());
    try {
      const bad = baseConfig();
      (bad.plans[0] as { limits: unknown[] }).limits = [{ requests: 5, per: 'fortnight' }];
      await assert.rejects(h.host.reconfigure(JSON.stringify(bad)), ConfigRejectedError);
      assert.ok(h.logs.some((l) => l.message.includes('plans[0].limits[0].per')), JSON.stringify(h.logs.map((l) => l.message)));
      const r = await h.host.request({ method: 'GET', path: '/orders', headers: { 'x-api-key': 'key-alpha' } });
      assert.equal(r.status, 200);
      for (const garbage of ['', '{', 'null', '[]', '{"version":1}', '\u0000\u00ff', '{"version":1,"apis":[],"plans":[],"keys":[],"x":1}']) {
        await assert.rejects(h.host.reconfigure(garbage), ConfigRejectedError);
      }
      assert.equal(h.host.stats().vmFailures, 0);
    } finally {
      await h.host.close();
    }
  });

  it('refuses to load with an empty or absent configuration (size 0), with a log line and no trap', async () => {
    // Envoy calls proxy_on_configure(root, 0) both for an empty pluginConfig and for none at all.
    for (const cfg of ['', new Uint8Array(0)]) {
      await assert.rejects(startHost(cfg), (err: unknown) => {
        assert.ok(err instanceof ConfigRejectedError);
        assert.ok(err.logs.some((l) => l.message.includes('configuration rejected: (root): configuration is empty')),
          JSON.stringify(err.logs.map((l) => l.message)));
        assert.ok(!/trap|unreachable|abort/i.test(err.message), err.message);
        return true;
      });
    }
  });
});
