// The control service's reply to a usage report (schemas/usage-reply.v2.schema.json): `fleet` (the rest of the
// fleet's count per subscription and window) and `version`. Parsed with the non-trapping scanner; unknown fields
// are skipped and a malformed reply simply stops the parse (entries already applied stay applied — each is a valid,
// independent fact).

import { JsonScanner } from "../json/scanner";
import { isId, isIntIn } from "../config/validate";
import { grantHash } from "../quota/credit";
import { subscriptionSplit } from "../quota/subscription";
import { periodFromName, PER_SECOND } from "../window";

/** The reply version whose fleet entries are per subscription; an answer to a sync report must have it to prime. */
export const REPLY_VERSION: i32 = 2;

/**
 * Receives each valid fleet entry; `sub` is a validated "<planId>/<consumerId>", `scope` (length 0: the whole
 * subscription) a validated "<apiId>" or "<apiId>/<operationId>". Returns false when not stored.
 */
export type FleetSink = (sub: usize, subLen: usize, per: i32, windowStart: f64, others: u32, scope: usize, scopeLen: usize) => bool;

/**
 * Receives each valid CreditSpend (contracts/key-feed.ts): `sub` a validated "<planId>/<consumerId>", `grant` the
 * grant id's hash (quota/credit.ts grantHash). Returns false when not stored.
 */
export type CreditSink = (sub: usize, subLen: usize, grant: u64, from: f64, others: f64) => bool;

const SUB = memory.data(129);
const SCOPE = memory.data(129);

/** Whether `n` bytes at `p` are "<apiId>" or "<apiId>/<operationId>" (a fleet window's scope). */
export function isScope(p: usize, n: usize): bool {
  if (n < 1 || n > 129) return false;
  for (let i: usize = 0; i < n; i++) {
    if (load<u8>(p + i) == 0x2f) return isId(p, i) && isId(p + i + 1, n - i - 1);
  }
  return isId(p, n);
}

/** Outcome of the last parse. */
export class ReplyResult {
  /** The reply's `version`, 0 when absent or not an integer. */
  version: i32 = 0;
  /** Valid fleet entries delivered to the sink. */
  delivered: i32 = 0;
  /** Delivered entries the sink could not store. */
  unstored: i32 = 0;
  /** False when the reply is not well-formed JSON of the expected shape (parse stopped). */
  wellFormed: bool = false;
}

export const lastReply = new ReplyResult();

/** Parses a reply into `lastReply`; returns the number of fleet entries delivered, or -1 when the reply is malformed. */
export function parseReply(ptr: usize, len: usize, sink: FleetSink, credit: CreditSink | null = null): i32 {
  lastReply.version = 0;
  lastReply.delivered = 0;
  lastReply.unstored = 0;
  const s = new JsonScanner(ptr, len);
  const ok = parseWith(s, sink, credit);
  s.release();
  lastReply.wellFormed = ok;
  return ok ? lastReply.delivered : -1;
}

function parseWith(s: JsonScanner, sink: FleetSink, credit: CreditSink | null): bool {
  if (!s.beginObject()) return false;
  for (let i = 0; s.nextMember(i); i++) {
    if (s.strIs("version") && (s.peek() == 0x2d || <u32>(s.peek() - 0x30) < 10)) {
      if (!s.readNumber()) return false;
      lastReply.version = isIntIn(s.num, 0, 1000000) ? <i32>s.num : 0;
      continue;
    }
    if (credit != null && s.strIs("creditSpend")) {
      if (!readCreditSpend(s, credit)) return false;
      continue;
    }
    if (!s.strIs("fleet")) {
      if (!s.skipValue()) return false;
      continue;
    }
    if (!readFleet(s, sink)) return false;
  }
  return !s.failed;
}

/**
 * Reads a `fleet` array (the scanner at its '['), delivering every valid entry to `sink` and counting them in
 * lastReply.delivered / unstored. Also the key feed's pages carry one (keyfeed/page.ts). False when malformed.
 */
export function readFleet(s: JsonScanner, sink: FleetSink): bool {
  if (!s.beginArray()) return false;
  for (let k = 0; s.nextElement(k); k++) {
    if (!s.beginObject()) return false;
    let subLen: usize = 0, scopeLen: usize = 0;
    let badScope = false;
    let per = -1;
    let start: f64 = -1, others: f64 = -1;
    for (let j = 0; s.nextMember(j); j++) {
      if (s.strIs("subscription") && s.peek() == 0x22) {
        if (!s.readString()) return false;
        if (subscriptionSplit(s.str, s.strLen) >= 0) { memory.copy(SUB, s.str, s.strLen); subLen = s.strLen; }
      } else if (s.strIs("scope")) {
        // A scope this filter cannot read makes the entry unusable (it must not be taken for the whole subscription).
        if (s.peek() != 0x22) { badScope = true; if (!s.skipValue()) return false; continue; }
        if (!s.readString()) return false;
        if (isScope(s.str, s.strLen)) { memory.copy(SCOPE, s.str, s.strLen); scopeLen = s.strLen; } else badScope = true;
      } else if (s.strIs("per") && s.peek() == 0x22) {
        if (!s.readString()) return false;
        per = periodFromName(s.strValue());
      } else if (s.strIs("windowStart") && s.peek() != 0x22 && s.peek() != 0x7b && s.peek() != 0x5b) {
        if (!s.readNumber()) return false;
        start = s.num;
      } else if (s.strIs("others") && s.peek() != 0x22 && s.peek() != 0x7b && s.peek() != 0x5b) {
        if (!s.readNumber()) return false;
        others = s.num;
      } else if (!s.skipValue()) return false;
    }
    if (s.failed) return false;
    if (subLen > 0 && !badScope && per > PER_SECOND && isIntIn(start, 0, 9007199254740991) && isIntIn(others, 0, 9007199254740991)) {
      if (!sink(SUB, subLen, per, start, others > 4294967295 ? u32.MAX_VALUE : <u32>others, SCOPE, scopeLen)) lastReply.unstored++;
      lastReply.delivered++;
    }
  }
  return !s.failed;
}

/** Whether `n` bytes at `p` are a credit grant id: 1–32 of [A-Za-z0-9_-] (contracts/key-feed.ts FeedCredit). */
export function isGrant(p: usize, n: usize): bool {
  if (n < 1 || n > 32) return false;
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (!(c - 0x30 < 10 || c - 0x41 < 26 || c - 0x61 < 26 || c == 0x5f || c == 0x2d)) return false;
  }
  return true;
}

/**
 * Reads a `creditSpend` array (the scanner at its '['; usage replies and key feed pages), delivering every valid
 * entry to `sink`; entries with a bad field are skipped, as fleet entries are. False when malformed JSON.
 */
export function readCreditSpend(s: JsonScanner, sink: CreditSink): bool {
  if (!s.beginArray()) return false;
  for (let k = 0; s.nextElement(k); k++) {
    if (!s.beginObject()) return false;
    let subLen: usize = 0;
    let grant: u64 = 0, hasGrant = false;
    let from: f64 = -1, others: f64 = -1;
    for (let j = 0; s.nextMember(j); j++) {
      const c = s.peek();
      if (s.strIs("subscription") && c == 0x22) {
        if (!s.readString()) return false;
        if (subscriptionSplit(s.str, s.strLen) >= 0) { memory.copy(SUB, s.str, s.strLen); subLen = s.strLen; }
      } else if (s.strIs("grant") && c == 0x22) {
        if (!s.readString()) return false;
        hasGrant = isGrant(s.str, s.strLen);
        if (hasGrant) grant = grantHash(s.str, s.strLen);
      } else if ((s.strIs("from") || s.strIs("others")) && (c == 0x2d || <u32>(c - 0x30) < 10)) {
        const isFrom = s.strIs("from");
        if (!s.readNumber()) return false;
        if (isFrom) from = s.num; else others = s.num;
      } else if (!s.skipValue()) return false;
    }
    if (s.failed) return false;
    if (subLen > 0 && hasGrant && isIntIn(from, 0, 9007199254740991) && isIntIn(others, 0, 9007199254740991)) {
      sink(SUB, subLen, grant, from, others);
    }
  }
  return !s.failed;
}
