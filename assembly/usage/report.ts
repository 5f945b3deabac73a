// Usage report body (docs/usage-report.md) from the VM's counters. Ids are validated configuration ids
// ([A-Za-z0-9._:-]), so they need no JSON escaping.

import { ByteSink } from "../sink";
import {
  counterApiLen, counterApiPtr, counterCount, counterCountOf, counterKeyLen, counterKeyPtr, counterMinute,
  counterOpLen, counterOpPtr, counterOutcome, counterStatus, counterUnits, counterWouldReject, OUTCOME_ALLOWED,
  outcomeName,
} from "./counters";
import { statusOn, writeProxyStatus } from "./status";

/**
 * Writes the report; returns the number of requests in its entries. `sync` asks the control service for the fleet
 * windows of every subscription in this reporter's scope, not only those in the entries (a restarted proxy).
 */
export function writeReport(out: ByteSink, batchIdHex: usize, reporterHex: usize, dropped: u64, sync: bool = false): u64 {
  out.reset();
  out.ascii("{\"version\":1,\"batchId\":\"");
  out.bytes(batchIdHex, 32);
  out.ascii("\",\"reporter\":\"");
  out.bytes(reporterHex, 16);
  out.ascii(sync ? "\",\"sync\":true,\"entries\":[" : "\",\"entries\":[");
  let total: u64 = 0;
  const n = counterCount();
  for (let i = 0; i < n; i++) {
    if (i > 0) out.byte(0x2c);
    out.ascii("{\"minute\":");
    out.u64(<u64>counterMinute(i));
    out.ascii(",\"keyId\":\"");
    out.bytes(counterKeyPtr(i), counterKeyLen(i));
    out.ascii("\",\"apiId\":\"");
    out.bytes(counterApiPtr(i), counterApiLen(i));
    const opLen = counterOpLen(i);
    if (opLen > 0) {
      out.ascii("\",\"operationId\":\"");
      out.bytes(counterOpPtr(i), opLen);
    }
    out.ascii("\",\"outcome\":\"");
    const o = counterOutcome(i);
    out.ascii(outcomeName(o));
    out.ascii("\",\"count\":");
    const c = counterCountOf(i);
    out.u64(c);
    total += c;
    if (o == OUTCOME_ALLOWED) {
      // Written only when it differs from the count: without costs the report is what it was before units.
      const u = counterUnits(i);
      if (u != c) {
        out.ascii(",\"units\":");
        out.u64(u);
      }
      const would = counterWouldReject(i);
      if (would > 0) {
        out.ascii(",\"wouldReject\":");
        out.u64(would);
      }
      let any = false;
      for (let cls = 1; cls <= 5; cls++) {
        const v = counterStatus(i, cls);
        if (v == 0) continue;
        out.ascii(any ? ",\"" : ",\"status\":{\"");
        out.byte(<u8>(0x30 + cls));
        out.ascii("xx\":");
        out.u64(v);
        any = true;
      }
      if (any) out.byte(0x7d);
    }
    out.byte(0x7d);
  }
  out.ascii("],\"dropped\":");
  out.u64(dropped);
  if (statusOn()) writeProxyStatus(out);
  out.byte(0x7d);
  return total;
}
