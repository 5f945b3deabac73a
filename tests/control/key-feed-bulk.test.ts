// Bulk key paths: NDJSON import of existing digests (idempotent, every line validated, bad lines reported by number
// without losing good ones) and bulk creation; both reach the key feed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf } from '../../control/key-material.js';
import { MAX_IMPORT_LINE_BYTES } from '../../control/keyfeed/import-line.js';
import { REPORT, seed, testApp, type TestApp } from './helpers.js';
import { injectGet, mirrorDigest, takeSnapshot } from './key-feed-client.js';

const digest = (s: string): string => createHash('sha256').update(s).digest('base64url');

interface ImportReply { lines: number; created: number; unchanged: number; rejected: number; errors: { line: number; detail: string }[] }

describe('bulk key paths', () => {
  let t: TestApp;
  let s: Awaited<ReturnType<typeof seed>>;
  const importBody = (body: string | Readable) => t.app.inject({
    method: 'POST', url: '/v1/keys:import', headers: { authorization: `Bearer ${t.app.settings.adminToken}`, 'content-type': 'application/x-ndjson' }, payload: body,
  });

  before(async () => {
    t = await testApp();
    s = await seed(t);
  });
  after(async () => t.close());

  it('imports good lines, reports each bad line by number, and is idempotent', async () => {
    const line = (o: Record<string, unknown>): string => JSON.stringify(o);
    const good = (n: number, extra: Record<string, unknown> = {}): string => line({ digest: digest(`imported-${n}`), consumerId: s.consumerId, planId: s.planId, ...extra });
    const body = [
      good(1, { id: 'legacy-1', prefix: 'abc', expiresAt: '2099-01-01T00:00:00Z' }), // 1
      good(2), // 2
      '{not json', // 3
      line({ digest: 'short', consumerId: s.consumerId, planId: s.planId }), // 4
      good(3, { colour: 'red' }), // 5
      line({ digest: digest('x'), consumerId: 'con_nobody', planId: s.planId }), // 6
      line({ digest: digest('y'), consumerId: s.consumerId, planId: 'pln_none' }), // 7
      '', // 8: blank, skipped
      good(2), // 9: the same line again: one key
      good(4, { expiresAt: 'tomorrow' }), // 10
      good(5, { prefix: 'x'.repeat(MAX_IMPORT_LINE_BYTES) }), // 11: too long
      `${good(6)}\r`, // 12: CRLF
      good(7, { id: 'legacy-1' }), // 13: the id of line 1 with another digest
    ].join('\n');
    const r = await importBody(body);
    assert.equal(r.statusCode, 200, r.body);
    const reply = r.json<ImportReply>();
    assert.equal(reply.lines, 13);
    assert.equal(reply.created, 3);
    assert.equal(reply.unchanged, 1);
    assert.deepEqual(reply.errors.map((e) => e.line), [3, 4, 5, 6, 7, 10, 11, 13]);
    assert.equal(reply.rejected, 8);
    assert.match(reply.errors.find((e) => e.line === 6)!.detail, /consumer/);
    assert.match(reply.errors.find((e) => e.line === 5)!.detail, /colour: unknown field/);

    const { mirror } = await takeSnapshot(injectGet(t.app, REPORT));
    const legacy = mirror.keys.get('legacy-1');
    assert.deepEqual(legacy, [digest('imported-1'), 'legacy-1', s.consumerId, s.planId, Date.parse('2099-01-01T00:00:00Z') / 1000]);
    assert.equal(mirror.digest, mirrorDigest(mirror));

    // The same body again: nothing new, no new revision.
    const head = (await t.app.store.keyFeed.state()).head;
    const again = (await importBody(body)).json<ImportReply>();
    assert.equal(again.created, 0);
    assert.equal(again.unchanged, 4);
    assert.equal((await t.app.store.keyFeed.state()).head, head);
  });

  it('streams a body in many chunks, across chunk transactions, and refuses other content types', async () => {
    const n = 45_000; // more than two import chunks
    let i = 0;
    const body = new Readable({
      read() {
        // Lines split across pushes at arbitrary points.
        if (i >= n) return void this.push(null);
        const lines: string[] = [];
        for (let j = 0; j < 997 && i < n; j++, i++) lines.push(JSON.stringify({ digest: digest(`stream-${i}`), consumerId: s.consumerId, planId: s.planId }));
        const text = `${lines.join('\n')}\n`;
        this.push(text.slice(0, 101));
        this.push(text.slice(101));
      },
    });
    const r = await importBody(body);
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json<ImportReply>(), { lines: n, created: n, unchanged: 0, rejected: 0, errors: [] });
    const json = await t.admin('POST', '/v1/keys:import', { digest: digest('z'), consumerId: s.consumerId, planId: s.planId });
    assert.equal(json.statusCode, 415);
  });

  it('bulk creation returns each plaintext key once; its digest is what the feed serves', async () => {
    const r = await t.admin('POST', '/v1/keys:bulkCreate', { consumerId: s.consumerId, planId: s.planId, count: 50, expiresAt: '2099-01-01T00:00:00Z' });
    assert.equal(r.statusCode, 201, r.body);
    const keys = r.json<{ keys: { id: string; key: string; prefix: string }[] }>().keys;
    assert.equal(keys.length, 50);
    assert.equal(new Set(keys.map((k) => k.key)).size, 50);
    const { mirror } = await takeSnapshot(injectGet(t.app, REPORT), 10_000);
    for (const k of keys) {
      assert.equal(mirror.keys.get(k.id)?.[0], digestOf(k.key));
      assert.ok(k.key.startsWith(k.prefix));
    }
    // The key works as any key does: it is listed, and it is never stored in plaintext.
    assert.equal((await t.admin('GET', `/v1/keys/${keys[0]!.id}`)).statusCode, 200);
    assert.equal((await t.admin('POST', '/v1/keys:bulkCreate', { consumerId: 'con_nobody', planId: s.planId, count: 1 })).statusCode, 404);
    assert.equal((await t.admin('POST', '/v1/keys:bulkCreate', { consumerId: s.consumerId, planId: 'pln_none', count: 1 })).statusCode, 422);
    assert.equal((await t.admin('POST', '/v1/keys:bulkCreate', { consumerId: s.consumerId, planId: s.planId, count: 10_001 })).statusCode, 400);
    assert.equal((await t.admin('POST', '/v1/keys:bulkCreate', { consumerId: s.consumerId, planId: s.planId, count: 1, extra: 1 })).statusCode, 400);
  });
});
