// The key feed (docs/key-feed.md): a target's proxies page through a snapshot of the keys of their scope, then long
// poll for deltas since a revision. Authenticated with the target's reporter credential; keys of plans outside the
// target's scope are never sent. The bulk key endpoints live in keys-bulk.ts.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  KEY_FEED_VERSION, SNAPSHOT_REQUIRED_TYPE, type DeltaPage, type SnapshotPage,
} from '../../../../contracts/key-feed.js';
import { Problem } from '../../../schemas/common.js';
import { DeltasQuery, SnapshotQuery } from '../../../schemas/keyfeed.js';
import { scopeOf } from '../../../reporter-credentials.js';
import { snapshotRequired, type FeedState } from '../../../keyfeed/rules.js';
import { fleetForKeys, fleetForSync } from '../../../usage/fleet.js';
import { creditSpendFor, creditSpendForSync } from '../../../credits/spend.js';
import type { ChangeFeed } from '../../../store/changes.js';

export interface KeyFeedRouteOptions { changes: ChangeFeed }

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
/** Snapshot cursors of the credit pages: "c:<subscription>" (a key digest never holds ':'). */
const CREDIT_CURSOR = 'c:';

/**
 * Whose counts `fleet` leaves out: fleet counts are kept per target and reporter id (control/usage/service.ts), so
 * the proxy's own are `<targetId>:<reporter>`; without `reporter`, none are left out.
 */
const fleetReporter = (targetId: string, reporter: string | undefined): string => (reporter === undefined ? '' : `${targetId}:${reporter}`);

function gone(reply: FastifyReply, detail: string): FastifyReply {
  return reply.code(410).type('application/problem+json').serializer(JSON.stringify)
    .send({ type: SNAPSHOT_REQUIRED_TYPE, title: 'Gone', status: 410, detail });
}

/** Pages are sent as built (no response schema): fast-json-stringify gains nothing on arrays of tuples. */
function sendPage(reply: FastifyReply, page: SnapshotPage | DeltaPage): FastifyReply {
  return reply.type('application/json').header('cache-control', 'no-store').serializer(JSON.stringify).send(page);
}

export default async function keyFeedRoutes(fastify: FastifyInstance, opts: KeyFeedRouteOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['keyfeed'];
  const feed = app.store.keyFeed;

  // Long polls waiting for a change; released on shutdown so they do not hold it.
  const waiting = new Set<() => void>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const w of [...waiting]) w();
  });

  // Woken together, a fleet's polls ask the same question (same target, same `since`): it is read once. Every entry
  // was started after the last change published, so it includes every change published so far; each publish clears
  // the memo, so no reply is older than the change that woke it.
  let memo = new Map<string, Promise<unknown>>();
  const forgetMemo = opts.changes.subscribe(() => { memo = new Map(); });
  app.addHook('onClose', async () => { forgetMemo(); });
  const once = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    let p = memo.get(key) as Promise<T> | undefined;
    if (p === undefined) {
      const table = memo;
      p = read();
      table.set(key, p);
      // A failed read is not remembered: the next request tries again.
      p.catch(() => table.delete(key));
    }
    return p;
  };
  const state = (targetId: string): ReturnType<typeof feed.state> => once(`state ${targetId}`, () => feed.state(targetId));
  // A remembered read may predate a commit another replica has already answered a proxy with (its NOTIFY not here
  // yet): a 410 costs the proxy a whole snapshot, so one is only given on a fresh read of the database.
  const snapshotRequiredNow = async (remembered: FeedState, targetId: string, epoch: string, since: number): Promise<string | undefined> =>
    snapshotRequired(remembered, epoch, since) === undefined ? undefined : snapshotRequired(await feed.state(targetId), epoch, since);

  /**
   * Watches for the next change the store publishes (this replica's or, on PostgreSQL, another's). Taken BEFORE the
   * state is read: a change published between that read and the wait then still wakes the poll at once.
   */
  const watch = (): { wait(ms: number, abort: AbortSignal): Promise<void>; stop(): void } => {
    let fired = false;
    let wake: (() => void) | undefined;
    const unsubscribe = opts.changes.subscribe(() => {
      fired = true;
      wake?.();
    });
    return {
      stop: unsubscribe,
      wait: (ms, abort) => new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          waiting.delete(done);
          abort.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        if (fired || abort.aborted) return done();
        wake = done;
        waiting.add(done);
        abort.addEventListener('abort', done);
      }),
    };
  };

  app.get('/snapshot', {
    config: { auth: 'report' },
    schema: { tags, security: [{ report: [] }], querystring: SnapshotQuery, response: { 400: Problem, 401: Problem } },
  }, async (req, reply) => {
    const q = req.query;
    const scope = scopeOf(req.reporterTarget!);
    const reporter = fleetReporter(scope.targetId, q.reporter);
    let page: SnapshotPage;
    let last: boolean;
    let digest: string;
    if (q.after?.startsWith(CREDIT_CURSOR) === true) {
      // Credit balances, after every key: pages with keys: [], cursor "c:<subscription>".
      const read = await feed.creditPage(scope, q.after.slice(CREDIT_CURSOR.length), q.limit + 1);
      last = read.credits.length <= q.limit;
      const credits = last ? read.credits : read.credits.slice(0, q.limit);
      page = {
        version: KEY_FEED_VERSION, kind: 'snapshot', epoch: read.state.epoch, revision: read.state.head, keys: [],
        next: last ? null : `${CREDIT_CURSOR}${credits.at(-1)![0]}`,
      };
      if (credits.length > 0) page.credits = credits;
      digest = read.digest;
    } else {
      // One more than asked: whether a next page exists is known without another read.
      const read = await feed.snapshotPage(scope, q.after, q.limit + 1);
      const lastKeys = read.keys.length <= q.limit;
      const keys = lastKeys ? read.keys : read.keys.slice(0, q.limit);
      // The scope's credit balances follow the keys on pages of their own.
      last = lastKeys && !read.hasCredits;
      page = {
        version: KEY_FEED_VERSION, kind: 'snapshot', epoch: read.state.epoch, revision: read.state.head, keys,
        next: lastKeys ? (last ? null : CREDIT_CURSOR) : keys.at(-1)![0],
      };
      digest = read.digest;
    }
    if (last) {
      const now = nowSeconds();
      page.digest = digest;
      page.fleet = await fleetForSync(app.store.usage, scope, reporter, now);
      const spend = await creditSpendForSync(app.store.usage, scope, reporter, now);
      if (spend.length > 0) page.creditSpend = spend;
    }
    return sendPage(reply, page);
  });

  app.get('/deltas', {
    config: { auth: 'report' },
    schema: { tags, security: [{ report: [] }], querystring: DeltasQuery, response: { 400: Problem, 401: Problem, 410: Problem } },
  }, async (req, reply) => {
    const q = req.query;
    const scope = scopeOf(req.reporterTarget!);
    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    reply.raw.on('close', onClose);
    try {
      const deadline = Date.now() + q.wait * 1000;
      for (;;) {
        const watcher = watch();
        try {
          const now = await state(scope.targetId);
          const why = await snapshotRequiredNow(now, scope.targetId, q.epoch, q.since);
          if (why !== undefined) return gone(reply, why);
          if (now.head > q.since || Date.now() >= deadline || abort.signal.aborted || closing) break;
          await watcher.wait(deadline - Date.now(), abort.signal);
        } finally {
          watcher.stop();
        }
      }
      let read = await once(`deltas ${scope.targetId} ${q.since} ${q.limit}`, () => feed.deltas(scope, q.since, q.limit));
      // A scope change or a replaced history may have landed between the two reads; a remembered read may also be
      // older than the proxy's revision (see snapshotRequiredNow): read again before answering 410.
      if (snapshotRequired(read.state, q.epoch, q.since) !== undefined) read = await feed.deltas(scope, q.since, q.limit);
      const why = snapshotRequired(read.state, q.epoch, q.since);
      if (why !== undefined) return gone(reply, why);
      const page: DeltaPage = {
        version: KEY_FEED_VERSION, kind: 'delta', epoch: read.state.epoch, since: q.since, revision: read.revision, more: read.more,
        changes: read.changes,
      };
      if (!read.more) page.digest = read.digest;
      if (read.credits.length > 0) {
        page.credits = read.credits;
        // The fleet's spend against the grants set in this delta (a proxy learning a grant learns what it holds).
        const set = read.credits.filter((c) => c.op === 'set').map(({ credit: [sub, grant, , , refillPer, since] }) => ({
          planId: sub.slice(0, sub.indexOf('/')), consumerId: sub.slice(sub.indexOf('/') + 1), grant, since, refillPer: refillPer === '' ? null : refillPer,
        }));
        const spend = await creditSpendFor(app.store.usage, set, fleetReporter(scope.targetId, q.reporter), nowSeconds());
        if (spend.length > 0) page.creditSpend = spend;
      }
      const added = read.changes.filter((c) => c.op === 'add').map((c) => c.key[1]);
      if (added.length > 0) {
        const facts = await app.store.usage.keyFacts(added);
        const fleet = await fleetForKeys(app.store.usage, facts.values(), fleetReporter(scope.targetId, q.reporter), nowSeconds());
        if (fleet.length > 0) page.fleet = fleet;
      }
      return sendPage(reply, page);
    } finally {
      reply.raw.off('close', onClose);
    }
  });
}
