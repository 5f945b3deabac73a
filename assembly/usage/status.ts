// The `proxy` object of a usage report (docs/usage-report.md "Proxy status"): Envoy's node id, the configuration's
// version, this VM's id, the process's key set (from the feed's meta in shared data: any VM can read it, the syncing
// one writes it) and this VM's failure counters. Written only under a configuration that carries `configVersion`: a
// control service that versions its configurations knows the field (an older one would refuse the report as unknown).

import { proxy_get_current_time_nanoseconds, proxy_get_property, proxy_get_shared_data, random_get, RESULT_OK } from "../abi/imports";
import { clearRet, RET_CAS, RET_LEN, RET_PTR, RET_U64 } from "../abi/memory";
import { writeHex } from "../bytes";
import { FIXED_KEY_LEN, META_COUNT, META_EPOCH, META_EPOCH_LEN, META_GEN, META_KEY, META_MAGIC, META_REVISION, META_SIZE } from "../keyfeed/layout";
import { metricTotal, M_DROPPED, M_FEED_FAILED, M_FLUSH_FAILED } from "../metrics";
import { ByteSink } from "../sink";

/** The schema's bound on `node`; a longer id is cut (at a character boundary). */
const MAX_NODE: usize = 256;
// Envoy ≥ 1.33 has the node only under xds.*; older releases only as the top-level `node`.
const XDS_NODE_ID = memory.data<u8>([0x78, 0x64, 0x73, 0x00, 0x6e, 0x6f, 0x64, 0x65, 0x00, 0x69, 0x64]); // xds\0node\0id
const NODE_ID = memory.data<u8>([0x6e, 0x6f, 0x64, 0x65, 0x00, 0x69, 0x64]); // node\0id
const NODE = memory.data(<i32>MAX_NODE);
let nodeLen: usize = 0;
let nodeRead = false;

let version: ArrayBuffer = new ArrayBuffer(0);

// This VM's id (`vm`): 4 random bytes as 8 hex chars, drawn once, so every report of the VM carries the same id and
// the control service keeps a row per VM (a worker still on an old configuration is not hidden by one that moved
// on). Random rather than a counter in shared data: no CAS round trip or retry path, and nothing shared between VMs;
// two VMs of one process collide with probability about n²/2³³ (n = 64: 5e-7), which only merges their rows.
const VM_RANDOM = memory.data(8);
const VM_HEX = memory.data(8);
let vmDrawn = false;

function drawVm(): void {
  if (vmDrawn) return;
  vmDrawn = true;
  if (random_get(VM_RANDOM, 4) != 0) {
    // No randomness from the host: the clock's low bits still tell VMs started at different instants apart.
    store<u64>(RET_U64, 0);
    proxy_get_current_time_nanoseconds(RET_U64);
    const t = load<u64>(RET_U64) * 0x9e3779b97f4a7c15;
    store<u32>(VM_RANDOM, <u32>(t >> 32));
  }
  writeHex(VM_HEX, VM_RANDOM, 4);
}

/** The configuration's version (empty: none, and no proxy status in reports). Called on every configure. */
export function setConfigVersion(v: ArrayBuffer): void { version = v; }

/** Whether reports carry `proxy`, and an idle worker still reports each interval (a heartbeat). */
export function statusOn(): bool { return version.byteLength > 0; }

function property(path: usize, len: usize): bool {
  clearRet();
  if (proxy_get_property(path, len, RET_PTR, RET_LEN) != RESULT_OK) return false;
  const p = <usize>load<u32>(RET_PTR);
  let n = <usize>load<u32>(RET_LEN);
  if (n == 0) return false;
  if (n > MAX_NODE) {
    n = MAX_NODE;
    while (n > 0 && (<u32>load<u8>(p + n) & 0xc0) == 0x80) n--; // not inside a UTF-8 sequence
  }
  memory.copy(NODE, p, n);
  nodeLen = n;
  return true;
}

/** Reads the node id once per VM (it does not change while Envoy runs). */
function readNode(): void {
  if (nodeRead) return;
  nodeRead = true;
  if (!property(XDS_NODE_ID, 11)) property(NODE_ID, 7);
}

/** The node id as a JSON string body: `"` and `\` escaped, control bytes as \u00XX. */
function writeNode(out: ByteSink): void {
  for (let i: usize = 0; i < nodeLen; i++) {
    const c = load<u8>(NODE + i);
    if (c == 0x22 || c == 0x5c) { out.byte(0x5c); out.byte(c); }
    else if (c < 0x20) {
      out.ascii("\\u00");
      out.byte(<u8>(0x30 + (c >> 4)));
      const lo = c & 15;
      out.byte(<u8>(lo < 10 ? 0x30 + lo : 0x57 + lo));
    } else out.byte(c);
  }
}

function isLowerHex(p: usize, n: usize): bool {
  if (n == 0) return false;
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (!(c - 0x30 < 10 || c - 0x61 < 6)) return false;
  }
  return true;
}

/** Appends `,"proxy":{…}` (the caller closes the report). */
export function writeProxyStatus(out: ByteSink): void {
  readNode();
  drawVm();
  out.ascii(",\"proxy\":{\"node\":\"");
  writeNode(out);
  out.ascii("\",\"vm\":\"");
  out.bytes(VM_HEX, 8);
  out.ascii("\",\"configVersion\":\"");
  out.bytes(changetype<usize>(version), <usize>version.byteLength);
  out.byte(0x22);
  clearRet();
  if (proxy_get_shared_data(META_KEY, FIXED_KEY_LEN, RET_PTR, RET_LEN, RET_CAS) == RESULT_OK) {
    const p = <usize>load<u32>(RET_PTR), n = <usize>load<u32>(RET_LEN);
    if (n >= META_SIZE && load<u32>(p) == META_MAGIC && load<u32>(p, META_GEN) != 0) {
      const el = <usize>load<u8>(p, META_EPOCH_LEN);
      const rev = load<f64>(p, META_REVISION);
      if (el <= 64 && isLowerHex(p + META_EPOCH, el) && rev >= 0 && rev < 9007199254740992.0) {
        out.ascii(",\"feedEpoch\":\"");
        out.bytes(p + META_EPOCH, el);
        out.ascii("\",\"feedRevision\":");
        out.u64(<u64>rev);
        out.ascii(",\"keys\":");
        out.u64(<u64>load<u32>(p, META_COUNT));
      }
    }
  }
  out.ascii(",\"flushFailed\":");
  out.u64(metricTotal(M_FLUSH_FAILED));
  out.ascii(",\"feedFailed\":");
  out.u64(metricTotal(M_FEED_FAILED));
  out.ascii(",\"dropped\":");
  out.u64(metricTotal(M_DROPPED));
  out.byte(0x7d);
}
