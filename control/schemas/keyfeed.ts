// Query strings of the key feed and the bulk key endpoints (docs/key-feed.md, docs/control.md). The feed's replies
// are the public format of contracts/key-feed.ts, described by schemas/key-feed.v1.schema.json.
import { Type } from '@sinclair/typebox';
import { KEY_FEED_DEFAULT_PAGE, KEY_FEED_MAX_PAGE, KEY_FEED_MAX_WAIT_S } from '../../contracts/key-feed.js';
import { Id, NullableTimestamp, Strict } from './common.js';

const Reporter = Type.String({ pattern: '^[0-9a-f]{16}$', description: 'the asking proxy\'s reporter id: its own counts are left out of `fleet`' });
const Limit = Type.Integer({ minimum: 1, maximum: KEY_FEED_MAX_PAGE, default: KEY_FEED_DEFAULT_PAGE });

export const SnapshotQuery = Type.Object({
  after: Type.Optional(Type.String({
    pattern: '^([A-Za-z0-9_-]{43}|c:([A-Za-z0-9._:-]{1,64}/[A-Za-z0-9._:-]{1,64})?)$',
    description: 'the previous page\'s `next`: a key digest, or "c:<subscription>" once the credit balances are paged',
  })),
  limit: Limit,
  reporter: Type.Optional(Reporter),
}, Strict);

export const DeltasQuery = Type.Object({
  epoch: Type.String({ pattern: '^[0-9a-f]{1,64}$' }),
  since: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  wait: Type.Integer({ minimum: 0, maximum: KEY_FEED_MAX_WAIT_S, default: 0, description: 'seconds to hold the request when nothing changed since `since`' }),
  limit: Limit,
  reporter: Type.Optional(Reporter),
}, Strict);

/** The most keys one bulk creation makes (their plaintexts are all in one reply). */
export const MAX_BULK_CREATE = 10_000;

export const BulkCreateBody = Type.Object({
  consumerId: Id,
  planId: Id,
  count: Type.Integer({ minimum: 1, maximum: MAX_BULK_CREATE }),
  expiresAt: Type.Optional(NullableTimestamp),
}, Strict);

export const BulkCreated = Type.Object({
  keys: Type.Array(Type.Object({ id: Id, prefix: Type.String(), key: Type.String({ description: 'shown once, never stored' }) })),
});

export const ImportReply = Type.Object({
  lines: Type.Integer({ description: 'lines read, blank ones included' }),
  created: Type.Integer(),
  unchanged: Type.Integer({ description: 'already stored with the same content: no change, no new revision' }),
  rejected: Type.Integer(),
  errors: Type.Array(Type.Object({ line: Type.Integer(), detail: Type.String() }), { description: 'rejected lines in line order, at most 1000 of them (the first found)' }),
});

/** Moving a key to another plan: its subscription (quota) changes; the key itself stays. */
export const KeyPatch = Type.Object({ planId: Id }, Strict);
