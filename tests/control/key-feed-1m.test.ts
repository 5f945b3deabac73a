// A million keys through the store and the feed: imported as NDJSON (streamed, in chunk transactions), then the whole
// snapshot paged over the REST app, checking the count and the set digest against one computed here from the lines.
// The import goes over a real socket, streamed, so the body is never whole in memory on either side. A million keys
// take over a minute on a shared machine: .ci/run sets TOLLGATE_TEST_1M_KEYS=1 for that; otherwise, and on
// PostgreSQL, the count is 100,000 (TOLLGATE_KEYFEED_KEYS overrides).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { KEY_FEED_MAX_PAGE, setDigest, type FeedKey } from '../../contracts/key-feed.js';
import { ON_POSTGRES, REPORT, seed, testApp, type TestApp } from './helpers.js';
import { injectGet, takeSnapshot } from './key-feed-client.js';

const COUNT = Number(process.env.TOLLGATE_KEYFEED_KEYS ?? (!ON_POSTGRES && process.env.TOLLGATE_TEST_1M_KEYS === '1' ? 1_000_000 : 100_000));

function* keysOf(consumerId: string, planId: string): Generator<FeedKey> {
  for (let i = 0; i < COUNT; i++) {
    const digest = createHash('sha256').update(`bulk-key-${i}`).digest('base64url');
    yield [digest, `imp_${i}`, consumerId, planId, i % 7 === 0 ? 4_102_444_800 : 0];
  }
}

describe(`${COUNT.toLocaleString('en')} keys through import and the feed`, { timeout: 900_000 }, () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  before(async () => {
    t = await testApp();
    s = await seed(t);
  });
  after(async () => t.close());

  it('imports them all, then a paged snapshot holds every key and the digest of the set', { timeout: 900_000 }, async () => {
    const gen = keysOf(s.consumerId, s.planId);
    const body = Readable.from((function* () {
      let buf: string[] = [];
      for (const k of gen) {
        buf.push(JSON.stringify({ id: k[1], digest: k[0], consumerId: k[2], planId: k[3], ...(k[4] !== 0 ? { expiresAt: new Date(k[4] * 1000).toISOString() } : {}) }));
        if (buf.length === 1000) {
          yield `${buf.join('\n')}\n`;
          buf = [];
        }
      }
      if (buf.length > 0) yield buf.join('\n');
    })());
    const t0 = Date.now();
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const r = await fetch(`${url}/v1/keys:import`, {
      method: 'POST', headers: { authorization: `Bearer ${t.app.settings.adminToken}`, 'content-type': 'application/x-ndjson' },
      body: Readable.toWeb(body) as ReadableStream, duplex: 'half',
    } as RequestInit);
    const text = await r.text();
    const importMs = Date.now() - t0;
    assert.equal(r.status, 200, text.slice(0, 500));
    assert.deepEqual(JSON.parse(text), { lines: COUNT, created: COUNT, unchanged: 0, rejected: 0, errors: [] });

    const t1 = Date.now();
    const { mirror, pages } = await takeSnapshot(injectGet(t.app, REPORT), KEY_FEED_MAX_PAGE);
    const snapshotMs = Date.now() - t1;
    assert.equal(mirror.keys.size, COUNT + 1, 'every imported key and the seeded one');
    assert.equal(pages.length, Math.ceil((COUNT + 1) / KEY_FEED_MAX_PAGE));
    const seeded = mirror.keys.get(s.keyId)!;
    const expected = setDigest((function* () {
      yield* keysOf(s.consumerId, s.planId);
      yield seeded;
    })());
    assert.equal(pages.at(-1)!.digest, expected);
    assert.equal(mirror.digest, expected, 'nothing changed while paging');
    process.stderr.write(`# ${COUNT} keys: import ${importMs} ms, snapshot (${pages.length} pages) ${snapshotMs} ms\n`);
  });
});
