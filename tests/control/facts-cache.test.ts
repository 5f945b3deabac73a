// Key and API facts kept in memory (control/usage/facts-cache.ts): read once, forgotten on every published change, an
// unknown id asked for again, and a read that overlaps a change never caches what it found.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeFeed } from '../../control/store/changes.js';
import type { KeyFacts } from '../../control/store/repository.js';
import { FactsCache } from '../../control/usage/facts-cache.js';

const facts = (keyId: string, planId: string): KeyFacts => ({ keyId, consumerId: 'con_a', planId, limits: [{ requests: 10, per: 'minute' }], planApiIds: ['api_a'] });

function setup() {
  let plan = 'pln_1';
  const keys = new Set(['key_a']);
  const apis = new Set(['api_a']);
  const asked: string[][] = [];
  let gate: Promise<void> | undefined;
  const repo = {
    keyFacts: async (ids: readonly string[]) => {
      asked.push([...ids]);
      const snapshot = plan;
      await gate;
      return new Map(ids.filter((id) => keys.has(id)).map((id) => [id, facts(id, snapshot)]));
    },
    existingApis: async (ids: readonly string[]) => {
      asked.push([...ids]);
      return new Set(ids.filter((id) => apis.has(id)));
    },
  };
  const changes = new ChangeFeed();
  return { cache: new FactsCache(repo, changes), changes, keys, apis, asked, setPlan: (p: string) => { plan = p; },
    hold: () => { let release!: () => void; gate = new Promise((r) => { release = r; }); return () => { gate = undefined; release(); }; } };
}

describe('facts cache', () => {
  it('reads a key\'s facts once, and again after a change is published', async () => {
    const t = setup();
    assert.equal((await t.cache.keyFacts(['key_a'])).get('key_a')?.planId, 'pln_1');
    t.setPlan('pln_2');
    assert.equal((await t.cache.keyFacts(['key_a'])).get('key_a')?.planId, 'pln_1', 'from memory');
    assert.equal(t.asked.length, 1);
    t.changes.publish();
    assert.equal((await t.cache.keyFacts(['key_a'])).get('key_a')?.planId, 'pln_2');
    assert.equal(t.asked.length, 2);
  });

  it('asks again for ids it did not find, so a key created since counts at once', async () => {
    const t = setup();
    assert.equal((await t.cache.keyFacts(['key_a', 'key_new'])).has('key_new'), false);
    t.keys.add('key_new');
    const again = await t.cache.keyFacts(['key_a', 'key_new']);
    assert.equal(again.has('key_new'), true);
    assert.deepEqual(t.asked.at(-1), ['key_new'], 'only the missing id is read');
    assert.deepEqual([...await t.cache.existingApis(['api_a', 'api_b'])], ['api_a']);
    t.apis.add('api_b');
    assert.deepEqual([...await t.cache.existingApis(['api_a', 'api_b'])].sort(), ['api_a', 'api_b']);
  });

  it('does not keep what a read found when a change was published while it ran', async () => {
    const t = setup();
    const release = t.hold();
    const reading = t.cache.keyFacts(['key_a']);
    t.changes.publish();
    t.setPlan('pln_2');
    release();
    assert.equal((await reading).get('key_a')?.planId, 'pln_1', 'the overlapping read answers with what it read');
    assert.equal((await t.cache.keyFacts(['key_a'])).get('key_a')?.planId, 'pln_2', 'but it was not kept');
  });

  it('stops listening when closed', async () => {
    const t = setup();
    await t.cache.keyFacts(['key_a']);
    t.cache.close();
    t.setPlan('pln_2');
    t.changes.publish();
    assert.equal((await t.cache.keyFacts(['key_a'])).get('key_a')?.planId, 'pln_1');
  });
});
