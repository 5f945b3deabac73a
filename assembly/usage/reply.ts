// The control service's reply to a usage report (schemas/usage-reply.v1.schema.json): only `fleet` matters to
// the filter. Parsed with the non-trapping scanner; unknown fields are skipped and a malformed reply simply stops
// the parse (entries already applied stay applied — each is a valid, independent fact).

import { JsonScanner } from "../json/scanner";
import { isId, isIntIn } from "../config/validate";
import { periodFromName, PER_SECOND } from "../window";

/** Receives each valid fleet entry. */
export type FleetSink = (keyId: usize, keyIdLen: usize, per: i32, windowStart: f64, others: u32) => void;

const KEY = memory.data(64);

/** Parses a reply; returns the number of fleet entries delivered, or -1 when the reply is malformed. */
export function parseReply(ptr: usize, len: usize, sink: FleetSink): i32 {
  const s = new JsonScanner(ptr, len);
  const n = parseWith(s, sink);
  s.release();
  return n;
}

function parseWith(s: JsonScanner, sink: FleetSink): i32 {
  let delivered = 0;
  if (!s.beginObject()) return -1;
  for (let i = 0; s.nextMember(i); i++) {
    if (!s.strIs("fleet")) {
      if (!s.skipValue()) return -1;
      continue;
    }
    if (!s.beginArray()) return -1;
    for (let k = 0; s.nextElement(k); k++) {
      if (!s.beginObject()) return -1;
      let keyLen: usize = 0;
      let per = -1;
      let start: f64 = -1, others: f64 = -1;
      for (let j = 0; s.nextMember(j); j++) {
        if (s.strIs("keyId") && s.peek() == 0x22) {
          if (!s.readString()) return -1;
          if (isId(s.str, s.strLen)) { memory.copy(KEY, s.str, s.strLen); keyLen = s.strLen; }
        } else if (s.strIs("per") && s.peek() == 0x22) {
          if (!s.readString()) return -1;
          per = periodFromName(s.strValue());
        } else if (s.strIs("windowStart") && s.peek() != 0x22 && s.peek() != 0x7b && s.peek() != 0x5b) {
          if (!s.readNumber()) return -1;
          start = s.num;
        } else if (s.strIs("others") && s.peek() != 0x22 && s.peek() != 0x7b && s.peek() != 0x5b) {
          if (!s.readNumber()) return -1;
          others = s.num;
        } else if (!s.skipValue()) return -1;
      }
      if (s.failed) return -1;
      if (keyLen > 0 && per > PER_SECOND && isIntIn(start, 0, 9007199254740991) && isIntIn(others, 0, 9007199254740991)) {
        sink(KEY, keyLen, per, start, others > 4294967295 ? u32.MAX_VALUE : <u32>others);
        delivered++;
      }
    }
    if (s.failed) return -1;
  }
  if (s.failed) return -1;
  return delivered;
}
