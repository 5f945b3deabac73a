// The key feed's sync (docs/filter.md, "Key feed"): one VM per Envoy process — whichever holds the lease in shared
// data — pulls the key set from the control service over proxy_http_call and writes it into shared data for every
// VM of the process (layout.ts). A snapshot (pages by `after` cursor) is written into the generation not being
// served, then the meta flips to it; deltas since the meta's revision are then applied in place, by long poll.
// All state a successor needs is in the meta entry, so a lease taken over (holder VM reloaded or gone) continues from
// the meta's revision; anything inconsistent ends in a fresh snapshot.

import {
  proxy_get_buffer_bytes, proxy_get_header_map_value, proxy_get_shared_data, proxy_http_call, proxy_set_shared_data,
  random_get, BUFFER_HTTP_CALL_RESPONSE_BODY, MAP_HTTP_CALL_RESPONSE_HEADERS, RESULT_CAS_MISMATCH, RESULT_OK,
} from "../abi/imports";
import { arenaMark, arenaRelease, clearRet, RET_CAS, RET_LEN, RET_PTR } from "../abi/memory";
import { PairWriter } from "../abi/pairs";
import { ab, abLen, sameBytes, writeU64 } from "../bytes";
import { KeyFeedTarget, UsageTarget } from "../config/model";
import { H_AUTHORITY, H_METHOD, H_PATH, H_STATUS } from "../http/names";
import { parseStatus } from "../http/status";
import { bump, M_FEED_FAILED, setFeedGauges } from "../metrics";
import { markPrimed } from "../quota/primed";
import { CREDIT_RECORD } from "../quota/credit";
import { INSERT_CAS, storeCredit, storeCreditSpend, storeOthers } from "../quota/shared";
import { ByteSink } from "../sink";
import {
  bitsFor, bucketKey, bucketOf, entrySizeAt, findEntry, FIXED_KEY_LEN, LEASE_KEY, MAX_BITS, MAX_BUCKET_KEY, MAX_ENTRY,
  META_BITS, META_CLEAN_NEXT, META_COUNT, META_DIGEST, META_EPOCH, META_EPOCH_LEN, META_GEN, META_KEY, META_MAGIC,
  META_LAST_GEN, META_OLD_BITS, META_OLD_GEN, META_REVISION, META_SIZE, TARGET_PER_BUCKET, xorEntryHash,
} from "./layout";
import { invalidateMeta } from "./lookup";
import { KIND_DELTA, KIND_SNAPSHOT, page, parsePage } from "./page";

/**
 * The most of one reply that is read: a page of 10,000 keys (the contract's maximum) is about 1.5 MB with its fleet
 * entries. A longer reply is a failure (retried after retryMs with half the page size), never a partial apply.
 */
export const MAX_FEED_REPLY_BYTES: u32 = 4 * 1024 * 1024;
/** Buckets of a replaced generation emptied per tick (each a get and a set of a few hundred bytes). */
const CLEAN_PER_TICK: u32 = 8192;
const MAX_CAS_ATTEMPTS = 8;
/** A set that grew to this many times its buckets' target is re-snapshotted with more buckets. */
const REBUCKET_FACTOR: f64 = 4;

/** Keys a generation of `b` bucket bits holds before it is re-snapshotted with more buckets. */
@inline function capacity(b: u32): f64 { return <f64>(1 << b) * TARGET_PER_BUCKET * REBUCKET_FACTOR; }

/**
 * A lower bound for the next snapshot's size estimate, when the set outgrew its buckets: a bucket must never grow
 * unbounded (each change rewrites its bucket: thousands of keys in one would make a page quadratic).
 */
let estimateFloor: f64 = 0;

const MODE_SNAPSHOT = 1;
const MODE_DELTAS = 2;

const GET = String.UTF8.encode("GET");
const headers = new PairWriter();
const path = new ByteSink();
const bucket = new ByteSink();
const TOKEN = memory.data(4);
const ME = memory.data(8);
const LEASE = memory.data(16);
const KEY = memory.data(<i32>MAX_BUCKET_KEY);
const META = memory.data(<i32>META_SIZE);
const RANDOM_GEN = memory.data(4);
const REPORTER = memory.data(16);

let idReady = false;
let holder = false;
let mode = 0;
let inflight = false;
let inflightToken: u32 = 0;
let inflightSinceMs: f64 = 0;
let inflightTimeoutMs: f64 = 0;
let nextAttemptMs: f64 = 0;
let pageLimit: u32 = 0;

// The served set, as the meta has it (valid while holder).
let gen: u32 = 0;
let bits: u32 = 0;
let revision: f64 = 0;
let count: u32 = 0;
const DIGEST = memory.data(8);
const EPOCH = memory.data(64);
let epochLen: usize = 0;

// The snapshot being written.
let snapGen: u32 = 0;
let snapBits: u32 = 0;
let snapRevision: f64 = 0;
let snapOneRevision = true;
let snapCount: u32 = 0;
let snapStarted = false;
const SNAP_DIGEST = memory.data(8);
const SNAP_EPOCH = memory.data(64);
let snapEpochLen: usize = 0;
const CURSOR = memory.data(512);
let cursorLen: usize = 0;

/** The 16 hex chars of the process's reporter id (sent as `reporter`). */
export function setFeedReporter(hex16: usize): void { memory.copy(REPORTER, hex16, 16); }

/**
 * A new configuration (a new root context in this VM): a call in flight belongs to the old root context, which Envoy
 * may cancel with it, so it is not waited for (its late answer no longer matches the token); page size from the new
 * configuration.
 */
export function feedConfigured(): void {
  inflight = false;
  pageLimit = 0;
  nextAttemptMs = 0;
}

function ensureId(nowMs: f64): void {
  if (idReady) return;
  if (random_get(ME, 8) != 0) store<u64>(ME, <u64>nowMs ^ 0x9e3779b97f4a7c15);
  idReady = true;
}

/** Takes or renews the lease (CAS); true when this VM holds it until nowMs + leaseMs. */
function holdLease(nowMs: f64, leaseMs: f64): bool {
  clearRet();
  let cas = INSERT_CAS;
  const r = proxy_get_shared_data(LEASE_KEY, FIXED_KEY_LEN, RET_PTR, RET_LEN, RET_CAS);
  if (r == RESULT_OK) {
    const p = <usize>load<u32>(RET_PTR), n = <usize>load<u32>(RET_LEN);
    cas = load<u32>(RET_CAS);
    if (n == 16 && load<u64>(p) != load<u64>(ME) && load<f64>(p, 8) > nowMs) return false;
  }
  store<u64>(LEASE, load<u64>(ME));
  store<f64>(LEASE, nowMs + leaseMs, 8);
  return proxy_set_shared_data(LEASE_KEY, FIXED_KEY_LEN, LEASE, 16, cas) == RESULT_OK;
}

/** Whether the lease is still ours (checked before each follow-up call made from a reply). */
function stillHolder(nowMs: f64): bool {
  clearRet();
  if (proxy_get_shared_data(LEASE_KEY, FIXED_KEY_LEN, RET_PTR, RET_LEN, RET_CAS) != RESULT_OK) return false;
  const p = <usize>load<u32>(RET_PTR), n = <usize>load<u32>(RET_LEN);
  return n == 16 && load<u64>(p) == load<u64>(ME) && load<f64>(p, 8) > nowMs;
}

/** Reads the meta into META; returns its CAS (INSERT_CAS when absent), and whether it is valid via the magic. */
function readMeta(): u32 {
  clearRet();
  memory.fill(META, 0, META_SIZE);
  if (proxy_get_shared_data(META_KEY, FIXED_KEY_LEN, RET_PTR, RET_LEN, RET_CAS) != RESULT_OK) return INSERT_CAS;
  const p = <usize>load<u32>(RET_PTR), n = <usize>load<u32>(RET_LEN);
  const cas = load<u32>(RET_CAS);
  // Bucket bits past MAX_BITS are no meta of ours (bucket keys are sized for MAX_BITS): treated as absent.
  if (n == META_SIZE && load<u32>(p) == META_MAGIC && <u32>load<u8>(p, META_BITS) <= MAX_BITS &&
      <u32>load<u8>(p, META_OLD_BITS) <= MAX_BITS && <usize>load<u8>(p, META_EPOCH_LEN) <= 64) {
    memory.copy(META, p, META_SIZE);
  }
  return cas;
}

/** Loads the served set's state from the meta (on taking the lease). */
function adoptMeta(): void {
  readMeta();
  if (load<u32>(META) == META_MAGIC && load<u32>(META, META_GEN) != 0) {
    gen = load<u32>(META, META_GEN);
    bits = <u32>load<u8>(META, META_BITS);
    revision = load<f64>(META, META_REVISION);
    count = load<u32>(META, META_COUNT);
    store<u64>(DIGEST, load<u64>(META, META_DIGEST));
    epochLen = <usize>load<u8>(META, META_EPOCH_LEN);
    memory.copy(EPOCH, META + META_EPOCH, epochLen);
    mode = MODE_DELTAS;
  } else {
    gen = 0;
    startSnapshot();
  }
}

function startSnapshot(): void {
  mode = MODE_SNAPSHOT;
  snapStarted = false;
  cursorLen = 0;
}

/** Writes the served set's state into the meta (CAS; false when another writer changed the generation). */
function writeMeta(newGen: u32, newBits: u32, oldGen: u32, oldBits: u32, commit: bool): bool {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cas = readMeta();
    const valid = load<u32>(META) == META_MAGIC;
    if (!commit && (!valid || load<u32>(META, META_GEN) != newGen)) return false;
    store<u32>(META, META_MAGIC);
    store<u32>(META, newGen, META_GEN);
    store<u8>(META, <u8>newBits, META_BITS);
    store<u32>(META, count, META_COUNT);
    store<f64>(META, revision, META_REVISION);
    store<u64>(META, load<u64>(DIGEST), META_DIGEST);
    store<u8>(META, <u8>epochLen, META_EPOCH_LEN);
    memory.copy(META + META_EPOCH, EPOCH, epochLen);
    if (commit) {
      store<u32>(META, oldGen, META_OLD_GEN);
      store<u8>(META, <u8>oldBits, META_OLD_BITS);
      store<u32>(META, 0, META_CLEAN_NEXT);
    }
    const r = proxy_set_shared_data(META_KEY, FIXED_KEY_LEN, META, META_SIZE, cas);
    if (r == RESULT_OK) return true;
    if (r != RESULT_CAS_MISMATCH) return false;
  }
  return false;
}

/** Empties up to CLEAN_PER_TICK buckets of a replaced generation (Envoy has no delete: an empty value). */
function cleanStep(): void {
  readMeta();
  if (load<u32>(META) != META_MAGIC) return;
  const old = load<u32>(META, META_OLD_GEN);
  if (old == 0) return;
  const total: u32 = 1 << <u32>load<u8>(META, META_OLD_BITS);
  const from = load<u32>(META, META_CLEAN_NEXT);
  const to = from + CLEAN_PER_TICK < total ? from + CLEAN_PER_TICK : total;
  const mark = arenaMark();
  for (let i = from; i < to; i++) {
    const kl = bucketKey(KEY, old, i);
    clearRet();
    if (proxy_get_shared_data(KEY, kl, RET_PTR, RET_LEN, RET_CAS) == RESULT_OK) {
      const p = <usize>load<u32>(RET_PTR), n = <usize>load<u32>(RET_LEN);
      // Only the replaced generation's own buckets: the slot may already hold a newer snapshot's.
      if (n >= 4 && load<u32>(p) == old) proxy_set_shared_data(KEY, kl, 0, 0, load<u32>(RET_CAS));
    }
    arenaRelease(mark);
  }
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cas = readMeta();
    if (load<u32>(META) != META_MAGIC || load<u32>(META, META_OLD_GEN) != old) return;
    if (to >= total) store<u32>(META, 0, META_OLD_GEN);
    else store<u32>(META, to, META_CLEAN_NEXT);
    if (proxy_set_shared_data(META_KEY, FIXED_KEY_LEN, META, META_SIZE, cas) != RESULT_CAS_MISMATCH) return;
  }
}

function failed(feed: KeyFeedTarget, nowMs: f64): void {
  bump(M_FEED_FAILED);
  // Up to a quarter earlier than retryMs, never later: proxies cut by the same outage spread their reconnects, and
  // retryMs stays the bound on the revocation window's reconnect part.
  const r = <f64>feed.retryMs;
  nextAttemptMs = nowMs + r - feedJitter(r * 0.25);
}

let rng: u64 = 0;

/** A pseudo-random delay in [0, spanMs): xorshift64 seeded from the VM's random lease id (no host call). */
export function feedJitter(spanMs: f64): f64 {
  if (rng == 0) { ensureId(0); rng = load<u64>(ME) | 1; }
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return <f64>(rng >> 11) / 9007199254740992.0 * spanMs;
}

/**
 * When this VM's sync next needs a tick: the next attempt's time while it holds the lease and no call is in flight;
 * otherwise Infinity (a held poll's answer arrives as a callback; the lease check keeps the usage tick's pace).
 */
export function feedDueMs(): f64 {
  return holder && !inflight ? nextAttemptMs : Infinity;
}

/**
 * Called on every tick of the active root context. `leaseMs` is a wall-clock length (3 usage intervals), the same for
 * every VM whatever its tick period: a holder ticking faster for its retries renews it more often, and VMs ticking at
 * the usage interval see it expire at the same instant.
 */
export function feedTick(usage: UsageTarget, feed: KeyFeedTarget, nowMs: f64, leaseMs: f64): void {
  ensureId(nowMs);
  invalidateMeta();
  const had = holder;
  holder = holdLease(nowMs, leaseMs);
  if (!holder) {
    if (had) inflight = false; // a late reply is ignored
    return;
  }
  if (!had) {
    adoptMeta();
    inflight = false;
    nextAttemptMs = 0;
    pageLimit = feed.pageKeys;
  }
  setFeedGauges(revision, count);
  cleanStep();
  if (inflight) {
    // A call whose answer never comes (its root context replaced, say) must not stop the sync.
    if (nowMs - inflightSinceMs <= inflightTimeoutMs * 2 + 1000) return;
    inflight = false;
    failed(feed, nowMs);
  }
  if (nowMs < nextAttemptMs) return;
  send(usage, feed, nowMs);
}

/** Appends `n` bytes at p to the path, percent-encoding all but unreserved characters. */
function appendEncoded(p: usize, n: usize): void {
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (c - 0x30 < 10 || c - 0x41 < 26 || c - 0x61 < 26 || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e) {
      path.byte(<u8>c);
    } else {
      path.byte(0x25);
      path.byte(<u8>(c >> 4 < 10 ? 0x30 + (c >> 4) : 0x41 + (c >> 4) - 10));
      path.byte(<u8>((c & 15) < 10 ? 0x30 + (c & 15) : 0x41 + (c & 15) - 10));
    }
  }
}

function send(usage: UsageTarget, feed: KeyFeedTarget, nowMs: f64): void {
  path.reset();
  let timeout: u32 = usage.timeoutMs;
  if (pageLimit == 0) pageLimit = feed.pageKeys;
  if (mode == MODE_SNAPSHOT) {
    path.bytes(ab(feed.snapshotPath), abLen(feed.snapshotPath));
    path.ascii("?limit=");
    path.u64(pageLimit);
    if (cursorLen > 0) { path.ascii("&after="); appendEncoded(CURSOR, cursorLen); }
  } else {
    path.bytes(ab(feed.deltasPath), abLen(feed.deltasPath));
    path.ascii("?epoch=");
    appendEncoded(EPOCH, epochLen);
    path.ascii("&since=");
    path.u64(<u64>revision);
    path.ascii("&wait=");
    path.u64(feed.waitS);
    path.ascii("&limit=");
    path.u64(pageLimit);
    timeout += feed.waitS * 1000;
  }
  path.ascii("&reporter=");
  path.bytes(REPORTER, 16);
  headers.reset();
  headers.add(ab(H_METHOD), abLen(H_METHOD), ab(GET), abLen(GET));
  headers.add(ab(H_PATH), abLen(H_PATH), path.ptr, path.len);
  headers.add(ab(H_AUTHORITY), abLen(H_AUTHORITY), ab(usage.authority), abLen(usage.authority));
  if (usage.hasToken) headers.add(ab(usage.tokenHeader), abLen(usage.tokenHeader), ab(usage.token), abLen(usage.token));
  headers.finish();
  const r = proxy_http_call(changetype<usize>(usage.cluster), <usize>usage.cluster.byteLength, headers.ptr, headers.len,
    0, 0, 0, 0, timeout, TOKEN);
  if (r != RESULT_OK) { failed(feed, nowMs); return; }
  inflight = true;
  inflightToken = load<u32>(TOKEN);
  inflightSinceMs = nowMs;
  inflightTimeoutMs = <f64>timeout;
}

function responseStatus(): i32 {
  clearRet();
  if (proxy_get_header_map_value(MAP_HTTP_CALL_RESPONSE_HEADERS, ab(H_STATUS), abLen(H_STATUS), RET_PTR, RET_LEN) != RESULT_OK) return 0;
  return <i32>parseStatus(<usize>load<u32>(RET_PTR), <usize>load<u32>(RET_LEN));
}

function applyFleet(sub: usize, subLen: usize, per: i32, windowStart: f64, others: u32, scope: usize, scopeLen: usize): bool {
  return storeOthers(sub, subLen, per, windowStart, others, scope, scopeLen);
}

/** proxy_on_http_call_response: false when the token is not the feed's. */
export function feedResponse(usage: UsageTarget | null, feed: KeyFeedTarget | null, token: u32, numHeaders: u32,
  bodySize: u32, nowMs: f64): bool {
  if (!inflight || token != inflightToken) return false;
  inflight = false;
  if (usage == null || feed == null || !holder) return true;
  const status = numHeaders == 0 ? 0 : responseStatus();
  if (status == 410) {
    // The service cannot serve deltas from our revision (another epoch, or history trimmed): fresh snapshot.
    startSnapshot();
    if (stillHolder(nowMs)) send(usage, feed, nowMs);
    return true;
  }
  if (status < 200 || status >= 300) { failed(feed, nowMs); return true; }
  if (bodySize > MAX_FEED_REPLY_BYTES) {
    // Never read past the cap: ask for smaller pages next time.
    pageLimit = pageLimit > 1 ? pageLimit >> 1 : 1;
    failed(feed, nowMs);
    return true;
  }
  clearRet();
  let ptr: usize = 0, len: usize = 0;
  if (bodySize > 0 && proxy_get_buffer_bytes(BUFFER_HTTP_CALL_RESPONSE_BODY, 0, bodySize, RET_PTR, RET_LEN) == RESULT_OK) {
    ptr = <usize>load<u32>(RET_PTR);
    len = <usize>load<u32>(RET_LEN);
  }
  const ok = mode == MODE_SNAPSHOT ? applySnapshotPage(ptr, len) : applyDeltaPage(ptr, len);
  if (!ok) { failed(feed, nowMs); return true; }
  setFeedGauges(revision, count);
  // Without a long poll (waitS 0) the next deltas request waits retryMs instead of following at once.
  if (mode == MODE_DELTAS && !page.more && feed.waitS == 0) { nextAttemptMs = nowMs + <f64>feed.retryMs; return true; }
  if (stillHolder(nowMs)) send(usage, feed, nowMs);
  return true;
}

function applySnapshotPage(ptr: usize, len: usize): bool {
  if (!parsePage(ptr, len, KIND_SNAPSHOT, applyFleet)) return false;
  const recs = page.records;
  if (!snapStarted) {
    snapGen = allocateGeneration();
    if (snapGen == 0) return false;
    // Pages come in digest order, so the first page tells how much of the digest space its keys cover: the set's
    // size is estimated from it (exact when it is the only page) and the bucket count chosen once for the snapshot.
    let estimate = <f64>page.count;
    if (page.hasNext && page.count > 0) estimate = <f64>page.count / coveredFraction(recs);
    if (estimate < estimateFloor) estimate = estimateFloor;
    snapBits = bitsFor(estimate);
    snapRevision = page.revision;
    snapOneRevision = true;
    snapCount = 0;
    store<u64>(SNAP_DIGEST, 0);
    memory.copy(SNAP_EPOCH, page.epoch, page.epochLen);
    snapEpochLen = page.epochLen;
    snapStarted = true;
  } else {
    if (page.epochLen != snapEpochLen || !sameBytes(page.epoch, SNAP_EPOCH, snapEpochLen)) {
      // The control service changed epoch mid-snapshot: start again.
      startSnapshot();
      return false;
    }
    if (page.revision != snapRevision) {
      snapOneRevision = false;
      if (page.revision < snapRevision) snapRevision = page.revision;
    }
  }
  if (<f64>snapCount + <f64>page.count > capacity(snapBits)) {
    // The first page's estimate was far off (pages not in digest order, say): start again with more buckets.
    estimateFloor = (<f64>snapCount + <f64>page.count) * 4;
    startSnapshot();
    return true;
  }
  // Each key is added to its bucket of the new generation (read, append, CAS write): pages may come in any order
  // of digests (the contract orders them, but by the digest's text or its bytes: either works here).
  let o: usize = 0;
  while (o < recs.len) {
    const e = recs.ptr + o + 1;
    const size = entrySizeAt(e, recs.len - o - 1);
    if (size == 0) return false;
    o += 1 + size;
    const d = applyChange(snapGen, snapBits, e, size, true, SNAP_DIGEST);
    if (d == CHANGE_FAILED) { startSnapshot(); return false; }
    snapCount += d;
  }
  // Balances go into their subscriptions' quota entries under the new generation (served only once it is flipped in).
  if (!applyCredits(snapGen, gen, true, SNAP_DIGEST)) { startSnapshot(); return false; }
  if (page.hasNext) {
    memory.copy(CURSOR, page.next, page.nextLen);
    cursorLen = page.nextLen;
    return true;
  }
  if (snapOneRevision && page.hasDigest && load<u64>(page.digest) != load<u64>(SNAP_DIGEST)) {
    // The set read does not match the digest the service computed: read it again.
    startSnapshot();
    return false;
  }
  const oldGen = gen, oldBits = bits;
  gen = snapGen;
  bits = snapBits;
  revision = snapRevision;
  count = snapCount;
  store<u64>(DIGEST, load<u64>(SNAP_DIGEST));
  memory.copy(EPOCH, SNAP_EPOCH, snapEpochLen);
  epochLen = snapEpochLen;
  if (!writeMeta(gen, bits, oldGen, oldBits, true)) { startSnapshot(); return false; }
  invalidateMeta();
  // The last page's fleet is the subscriptions' current counts: the process now knows them exactly.
  if (page.hasFleet && page.fleetUnstored == 0) markPrimed();
  mode = MODE_DELTAS;
  snapStarted = false;
  estimateFloor = 0;
  return true;
}

/** Whether 32-byte digest a sorts after b in byte order (memory.compare would be inlined as a byte loop). */
function digestAfter(a: usize, b: usize): bool {
  for (let i: usize = 0; i < 32; i += 8) {
    const x = bswap<u64>(load<u64>(a + i)), y = bswap<u64>(load<u64>(b + i));
    if (x != y) return x > y;
  }
  return false;
}

/**
 * The share of the digest space the first page covers, from its last digest: in byte order, or in the order of the
 * digests' base64url text (ASCII order of the alphabet) when the page is sorted that way. A page sorted neither way
 * counts as covering 1/64 (the set is re-bucketed later if that estimate was far off).
 */
function coveredFraction(recs: ByteSink): f64 {
  let o: usize = 0, prev: usize = 0, last: usize = 0;
  let bytesOrder = true, textOrder = true;
  while (o < recs.len) {
    const e = recs.ptr + o + 1;
    const size = entrySizeAt(e, recs.len - o - 1);
    if (size == 0) break;
    if (prev != 0) {
      if (digestAfter(prev, e)) bytesOrder = false;
      if (textRank(prev) > textRank(e)) textOrder = false;
    }
    prev = e;
    last = e;
    o += 1 + size;
  }
  if (last == 0) return 1;
  let f: f64 = 1.0 / 64;
  if (bytesOrder) f = (<f64>bswap<u32>(load<u32>(last)) + 1) / 4294967296.0;
  else if (textOrder) f = (textRank(last) + 1) / 16777216.0;
  return f > 1.0 / 4096 ? f : 1.0 / 4096;
}

/** The first 4 base64url characters of the digest at e, ranked by ASCII order of the alphabet (0 … 64^4 - 1). */
function textRank(e: usize): f64 {
  // The first 24 bits are the first 4 sextets.
  const v = (<u32>load<u8>(e) << 16) | (<u32>load<u8>(e + 1) << 8) | <u32>load<u8>(e + 2);
  let r: f64 = 0;
  for (let i = 0; i < 4; i++) {
    const x = (v >>> (18 - 6 * <u32>i)) & 63;
    // Sextet → position in "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz".
    const rank: u32 = x < 26 ? x + 11 : x < 52 ? x + 12 : x < 62 ? x - 51 : x == 62 ? 0 : 37;
    r = r * 64 + <f64>rank;
  }
  return r;
}

/**
 * A generation number for a new snapshot attempt: never used before in this process (an abandoned attempt's buckets
 * can then never be taken for the new one's) and in the slot ('a'/'b') the served generation does not use.
 */
function allocateGeneration(): u32 {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cas = readMeta();
    const valid = load<u32>(META) == META_MAGIC;
    const current = valid ? load<u32>(META, META_GEN) : 0;
    const last = valid ? load<u32>(META, META_LAST_GEN) : 0;
    let g = (last > current ? last : current) + 1;
    if ((g & 1) == (current & 1) && current != 0) g++;
    if (!valid) {
      // No meta (a new process) or an unreadable one: numbers used before are unknown, so start at a random one (a
      // bucket left under a reused number would otherwise be taken for the new snapshot's).
      if (random_get(RANDOM_GEN, 4) == 0) g = load<u32>(RANDOM_GEN);
    }
    if (g == 0) g = current & 1 ? 2 : 1;
    if (!valid) { store<u32>(META, META_MAGIC); }
    store<u32>(META, g, META_LAST_GEN);
    const r = proxy_set_shared_data(META_KEY, FIXED_KEY_LEN, META, META_SIZE, cas);
    if (r == RESULT_OK) return g;
    if (r != RESULT_CAS_MISMATCH) return 0;
  }
  return 0;
}

const CHANGE_FAILED: i32 = -100;

/** Whether a bucket value is its generation word and whole entries, nothing else. */
function bucketParses(p: usize, n: usize): bool {
  let o: usize = 4;
  while (o < n) {
    const size = entrySizeAt(p + o, n - o);
    if (size == 0) return false;
    o += size;
  }
  return true;
}

/**
 * Upserts (keep) or removes the entry at e in generation g (bucket bits nb); XORs the change into the digest at acc.
 * Returns the change in the set's size (-1, 0, 1), or CHANGE_FAILED when shared data refused the write.
 */
function applyChange(g: u32, nb: u32, e: usize, size: usize, keep: bool, acc: usize): i32 {
  // A page applies thousands of changes in one callback: each bucket's copy is released once applied.
  const mark = arenaMark();
  const d = changeBucket(g, nb, e, size, keep, acc);
  arenaRelease(mark);
  return d;
}

function changeBucket(g: u32, nb: u32, e: usize, size: usize, keep: bool, acc: usize): i32 {
  const kl = bucketKey(KEY, g, bucketOf(e, nb));
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    clearRet();
    let cas = INSERT_CAS;
    bucket.reset();
    store<u32>(bucket.reserve(4), g);
    bucket.len = 4;
    let removed: usize = 0;
    if (proxy_get_shared_data(KEY, kl, RET_PTR, RET_LEN, RET_CAS) == RESULT_OK) {
      cas = load<u32>(RET_CAS);
      const p = <usize>load<u32>(RET_PTR), n = <usize>load<u32>(RET_LEN);
      // A bucket of another generation (the slot's previous use), or one that does not parse, is stale: replaced.
      if (n >= 4 && load<u32>(p) == g && bucketParses(p, n)) {
        const at = findEntry(p, n, e);
        if (at >= 0) {
          const old = p + <usize>at;
          const oldSize = entrySizeAt(old, n - <usize>at);
          if (keep && oldSize == size && sameBytes(old, e, size)) return 0; // already so
          bucket.bytes(p + 4, <usize>at - 4);
          bucket.bytes(old + oldSize, n - <usize>at - oldSize);
          // The old entry's bytes stay in the host's copy until the callback returns: hashed out after the write.
          removed = old;
        } else {
          bucket.bytes(p + 4, n - 4);
        }
      }
    }
    if (removed == 0 && !keep) return 0; // already absent
    if (keep) bucket.bytes(e, size);
    const w = proxy_set_shared_data(KEY, kl, bucket.ptr, bucket.len, cas);
    if (w == RESULT_CAS_MISMATCH) continue;
    if (w != RESULT_OK) return CHANGE_FAILED;
    let d = 0;
    if (removed != 0) { xorEntryHash(removed, acc); d--; }
    if (keep) { xorEntryHash(e, acc); d++; }
    return d;
  }
  return CHANGE_FAILED;
}

/** Writes the page's credit records for generation `stamp` (quota/shared.ts storeCredit); false when one failed. */
function applyCredits(stamp: u32, served: u32, snapshot: bool, acc: usize): bool {
  const recs = page.credits;
  let o: usize = 0;
  while (o < recs.len) {
    const subLen = <usize>load<u8>(recs.ptr + o);
    if (!storeCredit(recs.ptr + o + 1, subLen, recs.ptr + o + 1 + subLen, stamp, served, snapshot, acc)) return false;
    o += 1 + subLen + CREDIT_RECORD;
  }
  // Then the fleet's spend, which applies only to a grant the entry holds (independent facts, as fleet windows).
  const sp = page.spends;
  o = 0;
  while (o < sp.len) {
    const p = sp.ptr + o, n = <usize>load<u8>(p);
    storeCreditSpend(p + 1, n, load<u64>(p + 1 + n), load<f64>(p + 9 + n), load<f64>(p + 17 + n));
    o += 25 + n;
  }
  return true;
}

function applyDeltaPage(ptr: usize, len: usize): bool {
  if (!parsePage(ptr, len, KIND_DELTA, applyFleet)) return false;
  if (page.epochLen != epochLen || !sameBytes(page.epoch, EPOCH, epochLen) || page.since != revision) {
    // Another epoch (the control service's store was replaced), or a gap: fresh snapshot.
    startSnapshot();
    return true;
  }
  if (<f64>count + <f64>page.count > capacity(bits)) {
    // The set outgrows its buckets: a fresh snapshot with more of them, rather than ever-longer buckets.
    estimateFloor = <f64>count + <f64>page.count;
    startSnapshot();
    return true;
  }
  const recs = page.records;
  let o: usize = 0;
  while (o < recs.len) {
    const keep = load<u8>(recs.ptr + o) != 0;
    const e = recs.ptr + o + 1;
    const size = entrySizeAt(e, recs.len - o - 1);
    if (size == 0 || size > MAX_ENTRY) return false;
    o += 1 + size;
    const d = applyChange(gen, bits, e, size, keep, DIGEST);
    if (d == CHANGE_FAILED) {
      // Shared data refused a write (never in Envoy): the set may now differ from the meta; start over.
      startSnapshot();
      return false;
    }
    count = <u32>(<i32>count + d);
  }
  if (!applyCredits(gen, gen, false, DIGEST)) { startSnapshot(); return false; }
  revision = page.revision;
  if (!writeMeta(gen, bits, 0, 0, false)) {
    // Another VM committed a snapshot meanwhile: take the meta's state at the next tick.
    holder = false;
    return false;
  }
  if (!page.more && page.hasDigest && load<u64>(page.digest) != load<u64>(DIGEST)) startSnapshot();
  return true;
}
