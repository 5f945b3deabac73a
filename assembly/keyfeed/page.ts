// One page of the key feed (contracts/key-feed.ts: a snapshot page or a delta), parsed with the non-trapping scanner
// into `page` and a flat list of records, without touching shared data: a page is applied only once it has been read
// whole and valid, so a reply cut short or malformed changes nothing (its fleet entries excepted: each is an
// independent fact, applied as a usage reply's are).
//
// Record: u8 keep (1: add/rotate, 0: revoke/expire) · entry in the bucket layout (layout.ts).
// Credit record (page.credits): u8 subscription length · subscription · quota/credit.ts creditRecord (with the
// balance's 8 bytes of the set digest, computed here from contracts/key-feed.ts creditLine).

import { decodeDigest43 } from "../base64url";
import { writeU64 } from "../bytes";
import { isId, isIntIn } from "../config/validate";
import { JsonScanner } from "../json/scanner";
import { creditRecord, CREDIT_RECORD, grantHash } from "../quota/credit";
import { subscriptionSplit } from "../quota/subscription";
import { sha256 } from "../sha256";
import { ByteSink } from "../sink";
import { CreditSink, FleetSink, isGrant, lastReply, readCreditSpend, readFleet } from "../usage/reply";
import { PER_DAY, PER_HOUR, PER_MONTH } from "../window";
import { MAX_EPOCH, MAX_ENTRY, MAX_ID, writeEntry } from "./layout";

export const KIND_SNAPSHOT = 1;
export const KIND_DELTA = 2;
/** The most a cursor may be (it is sent back in a query string). */
export const MAX_CURSOR: usize = 512;
const MAX_SAFE: f64 = 9007199254740991;

const EPOCH = memory.data(<i32>MAX_EPOCH);
const NEXT = memory.data(<i32>MAX_CURSOR);
const PAGE_DIGEST = memory.data(8);

export class Page {
  kind: i32 = 0;
  version: i32 = 0;
  epoch: usize = EPOCH;
  epochLen: usize = 0;
  revision: f64 = -1;
  since: f64 = -1;
  more: bool = false;
  /** Snapshot: the next page's cursor (hasNext false: the last page). */
  next: usize = NEXT;
  nextLen: usize = 0;
  hasNext: bool = false;
  hasDigest: bool = false;
  digest: usize = PAGE_DIGEST;
  hasFleet: bool = false;
  /** Fleet entries delivered and not stored (quota/shared.ts storeOthers lost every attempt). */
  fleetUnstored: i32 = 0;
  count: i32 = 0;
  records: ByteSink = new ByteSink();
  /** Credit balances set or removed by this page (see the record layout above). */
  credits: ByteSink = new ByteSink();
  /** The page's creditSpend entries (u8 subscription length · subscription · u64 grant · f64 from · f64 others), applied after its balances. */
  spends: ByteSink = new ByteSink();
}

export const page = new Page();

const DIGEST = memory.data(32);
const KEY_ID = memory.data(<i32>MAX_ID);
const CONSUMER = memory.data(<i32>MAX_ID);
const PLAN = memory.data(<i32>MAX_ID);

@inline function isNumberStart(c: i32): bool { return c == 0x2d || <u32>(c - 0x30) < 10; }

function hexNibble(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  if (c - 0x61 < 6) return <i32>(c - 0x61 + 10);
  return -1;
}

/** 16 lowercase hex chars → 8 bytes at dst. */
export function decodeHex16(p: usize, n: usize, dst: usize): bool {
  if (n != 16) return false;
  for (let i: usize = 0; i < 8; i++) {
    const hi = hexNibble(<u32>load<u8>(p + 2 * i)), lo = hexNibble(<u32>load<u8>(p + 2 * i + 1));
    if (hi < 0 || lo < 0) return false;
    store<u8>(dst + i, <u8>((hi << 4) | lo));
  }
  return true;
}

/** A page is either applied whole or not at all, so why it was refused is not kept (the failure is counted). */
function fail(s: JsonScanner): bool {
  s.fail("bad page");
  return false;
}

/** A FeedKey array [digest, keyId, consumerId, planId, expiresAt] → one record with `keep`. */
function readKey(s: JsonScanner, keep: bool): bool {
  if (!s.beginArray()) return fail(s);
  let n = 0;
  let keyIdLen: usize = 0, consumerLen: usize = 0, planLen: usize = 0;
  let expires: f64 = -1;
  const rec = page.records;
  for (; s.nextElement(n); n++) {
    if (n >= 5) return fail(s);
    if (n <= 3) {
      if (s.peek() != 0x22 || !s.readString()) return fail(s);
      if (n == 0) {
        if (s.strLen != 43 || !decodeDigest43(s.str, DIGEST)) return fail(s);
      } else if (!isId(s.str, s.strLen)) {
        return fail(s);
      } else if (n == 1) {
        keyIdLen = s.strLen; memory.copy(KEY_ID, s.str, keyIdLen);
      } else if (n == 2) {
        consumerLen = s.strLen; memory.copy(CONSUMER, s.str, consumerLen);
      } else {
        planLen = s.strLen; memory.copy(PLAN, s.str, planLen);
      }
    } else {
      if (!isNumberStart(s.peek()) || !s.readNumber()) return fail(s);
      if (!isIntIn(s.num, 0, 4294967295)) return fail(s);
      expires = s.num;
    }
  }
  if (s.failed) return false;
  if (n != 5 || expires < 0) return fail(s);
  const d = rec.reserve(1 + MAX_ENTRY);
  store<u8>(d, keep ? 1 : 0);
  rec.len += 1 + writeEntry(d + 1, DIGEST, <u32>expires, KEY_ID, keyIdLen, CONSUMER, consumerLen, PLAN, planLen);
  page.count++;
  return true;
}

const LINE = memory.data(7 + 129 + 1 + 32 + 4 * 21);
const HASH = memory.data(32);

/** Appends `n` bytes at p and a "\n" to the credit line at o; returns the new length. */
function lineField(o: usize, p: usize, n: usize): usize {
  memory.copy(LINE + o, p, n);
  store<u8>(LINE + o + n, 0x0a);
  return o + n + 1;
}

/** Appends a number and (unless last) a "\n". */
function lineNumber(o: usize, v: f64, last: bool): usize {
  o += writeU64(LINE + o, <u64>v);
  if (!last) store<u8>(LINE + o++, 0x0a);
  return o;
}

/**
 * A FeedCredit [subscription, grant, balance, refillAmount, refillPer, since] → one credit record (`present`
 * false: a removal). Its digest line is "credit\n" and the fields joined by "\n" (contracts/key-feed.ts creditLine).
 */
function readCredit(s: JsonScanner, present: bool): bool {
  if (!s.beginArray()) return fail(s);
  const rec = page.credits;
  const start = rec.len;
  const r = rec.reserve(1 + 129 + CREDIT_RECORD);
  let o = lineField(0, CREDIT_WORD, 6);
  let n = 0, grant: u64 = 0, per = -2;
  let balance: f64 = -1, refill: f64 = -1, since: f64 = -1;
  for (; s.nextElement(n); n++) {
    if (n >= 6) return fail(s);
    const c = s.peek();
    if (n == 0 || n == 1 || n == 4) {
      if (c != 0x22 || !s.readString()) return fail(s);
      if (n == 0) {
        if (subscriptionSplit(s.str, s.strLen) < 0) return fail(s);
        store<u8>(r, <u8>s.strLen);
        memory.copy(r + 1, s.str, s.strLen);
      } else if (n == 1) {
        if (!isGrant(s.str, s.strLen)) return fail(s);
        grant = grantHash(s.str, s.strLen);
      } else {
        per = s.strLen == 0 ? -1 : s.strIs("hour") ? PER_HOUR : s.strIs("day") ? PER_DAY : s.strIs("month") ? PER_MONTH : -2;
        if (per == -2) return fail(s);
      }
      o = lineField(o, s.str, s.strLen);
    } else {
      if (!isNumberStart(c) || !s.readNumber() || !isIntIn(s.num, 0, MAX_SAFE)) return fail(s);
      if (n == 2) balance = s.num; else if (n == 3) refill = s.num; else since = s.num;
      o = lineNumber(o, s.num, n == 5);
    }
  }
  if (s.failed) return false;
  if (n != 6) return fail(s);
  sha256(LINE, o, HASH);
  const subLen = <usize>load<u8>(r);
  creditRecord(r + 1 + subLen, present, grant, balance, refill, since, per, load<u64>(HASH));
  rec.len = start + 1 + subLen + CREDIT_RECORD;
  return true;
}

/** A CreditSpend kept in page.spends: a spend applies to a balance, which the page may itself bring. */
function keepSpend(sub: usize, subLen: usize, grant: u64, from: f64, others: f64): bool {
  const d = page.spends.reserve(1 + 129 + 24);
  store<u8>(d, <u8>subLen);
  memory.copy(d + 1, sub, subLen);
  store<u64>(d + 1 + subLen, grant);
  store<f64>(d + 9 + subLen, from);
  store<f64>(d + 17 + subLen, others);
  page.spends.len += 25 + subLen;
  return true;
}

const CREDIT_WORD = memory.data<u8>([0x63, 0x72, 0x65, 0x64, 0x69, 0x74]); // "credit"

/**
 * Parses `len` bytes at `ptr` as a page of kind `expect` (KIND_*); fleet entries go to `sink`, credit spend to
 * `credit`. Never traps; false when the page is malformed or not of the expected kind.
 */
export function parsePage(ptr: usize, len: usize, expect: i32, sink: FleetSink, credit: CreditSink | null = keepSpend): bool {
  page.kind = 0; page.version = 0; page.epochLen = 0; page.revision = -1; page.since = -1; page.more = false;
  page.nextLen = 0; page.hasNext = false; page.hasDigest = false; page.hasFleet = false; page.fleetUnstored = 0;
  page.count = 0; page.records.reset(); page.credits.reset(); page.spends.reset();
  lastReply.delivered = 0;
  lastReply.unstored = 0;
  const s = new JsonScanner(ptr, len);
  let ok = parseWith(s, expect, sink, credit);
  if (ok && !s.atEnd()) ok = fail(s);
  s.release();
  page.fleetUnstored = lastReply.unstored;
  return ok && page.version == 1 && page.kind == expect && page.epochLen > 0 && page.revision >= 0 &&
    (expect != KIND_DELTA || page.since >= 0);
}

function parseWith(s: JsonScanner, expect: i32, sink: FleetSink, credit: CreditSink | null): bool {
  if (!s.beginObject()) return fail(s);
  let sawNext = false;
  for (let i = 0; s.nextMember(i); i++) {
    const c = s.peek();
    if (s.strIs("version")) {
      if (!isNumberStart(c) || !s.readNumber()) return fail(s);
      page.version = isIntIn(s.num, 0, 1000) ? <i32>s.num : 0;
    } else if (s.strIs("kind")) {
      if (c != 0x22 || !s.readString()) return fail(s);
      page.kind = s.strIs("snapshot") ? KIND_SNAPSHOT : s.strIs("delta") ? KIND_DELTA : -1;
    } else if (s.strIs("epoch")) {
      if (c != 0x22 || !s.readString()) return fail(s);
      if (s.strLen < 1 || s.strLen > MAX_EPOCH) return fail(s);
      memory.copy(page.epoch, s.str, s.strLen);
      page.epochLen = s.strLen;
    } else if (s.strIs("revision") || s.strIs("since")) {
      const isRev = s.strIs("revision");
      if (!isNumberStart(c) || !s.readNumber() || !isIntIn(s.num, 0, MAX_SAFE)) return fail(s);
      if (isRev) page.revision = s.num; else page.since = s.num;
    } else if (s.strIs("more")) {
      if (c != 0x74 && c != 0x66) return fail(s);
      page.more = s.readBool();
      if (s.failed) return false;
    } else if (s.strIs("next")) {
      sawNext = true;
      if (c == 0x6e) {
        if (!s.skipValue()) return false; // null: the last page
      } else {
        if (c != 0x22 || !s.readString()) return fail(s);
        if (s.strLen < 1 || s.strLen > MAX_CURSOR) return fail(s);
        memory.copy(page.next, s.str, s.strLen);
        page.nextLen = s.strLen;
        page.hasNext = true;
      }
    } else if (s.strIs("digest")) {
      if (c != 0x22 || !s.readString() || !decodeHex16(s.str, s.strLen, page.digest)) return fail(s);
      page.hasDigest = true;
    } else if (s.strIs("fleet")) {
      if (!readFleet(s, sink)) return fail(s);
      page.hasFleet = true;
    } else if (credit != null && s.strIs("creditSpend")) {
      if (!readCreditSpend(s, credit)) return fail(s);
    } else if (s.strIs("credits") && expect == KIND_SNAPSHOT) {
      if (!s.beginArray()) return fail(s);
      for (let k = 0; s.nextElement(k); k++) if (!readCredit(s, true)) return false;
      if (s.failed) return false;
    } else if (s.strIs("credits") && expect == KIND_DELTA) {
      if (!s.beginArray()) return fail(s);
      for (let k = 0; s.nextElement(k); k++) {
        if (!s.beginObject()) return fail(s);
        let op = -1, hasCredit = false, at: usize = 0;
        for (let j = 0; s.nextMember(j); j++) {
          if (s.strIs("op")) {
            if (s.peek() != 0x22 || !s.readString()) return fail(s);
            op = s.strIs("set") ? 1 : s.strIs("remove") ? 0 : -1;
            if (op < 0) return fail(s);
          } else if (s.strIs("credit")) {
            if (hasCredit) return fail(s);
            at = page.credits.len;
            if (!readCredit(s, true)) return false;
            hasCredit = true;
          } else if (!s.skipValue()) return false;
        }
        if (s.failed) return false;
        if (op < 0 || !hasCredit) return fail(s);
        // The op may come after the credit: a removal clears the record's `present` word.
        if (op == 0) store<u32>(page.credits.ptr + at + 1 + <usize>load<u8>(page.credits.ptr + at), 0);
      }
      if (s.failed) return false;
    } else if (s.strIs("keys") && expect == KIND_SNAPSHOT) {
      if (!s.beginArray()) return fail(s);
      for (let k = 0; s.nextElement(k); k++) if (!readKey(s, true)) return false;
      if (s.failed) return false;
    } else if (s.strIs("changes") && expect == KIND_DELTA) {
      if (!s.beginArray()) return fail(s);
      for (let k = 0; s.nextElement(k); k++) {
        if (!s.beginObject()) return fail(s);
        let op = -1, hasKey = false;
        for (let j = 0; s.nextMember(j); j++) {
          if (s.strIs("op")) {
            if (s.peek() != 0x22 || !s.readString()) return fail(s);
            op = s.strIs("add") || s.strIs("rotate") ? 1 : s.strIs("revoke") || s.strIs("expire") ? 0 : -1;
            if (op < 0) return fail(s);
            // The op may come after the key: a key read before it is patched below.
            if (hasKey) store<u8>(page.records.ptr + lastRecord, <u8>op);
          } else if (s.strIs("key")) {
            if (hasKey) return fail(s);
            lastRecord = page.records.len;
            if (!readKey(s, op != 0)) return false;
            hasKey = true;
          } else if (!s.skipValue()) return false;
        }
        if (s.failed) return false;
        if (op < 0 || !hasKey) return fail(s);
      }
      if (s.failed) return false;
    } else if (!s.skipValue()) return false;
  }
  if (s.failed) return false;
  if (expect == KIND_SNAPSHOT && !sawNext) return fail(s);
  return true;
}

let lastRecord: usize = 0;
