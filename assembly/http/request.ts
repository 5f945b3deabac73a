// The request path: read the request once (one pass over its headers), decide (decision.ts, pure, in stages that
// fetch only the facts they need: credential and digest, clock, quota), apply the verdict (effects.ts), then wipe
// the key. Host calls on an allowed request: get_header_map_pairs, get_current_time, get_shared_data,
// set_shared_data, set_header_map_pairs. Nothing here allocates: buffers are preallocated and reused.

import {
  proxy_get_current_time_nanoseconds, proxy_get_header_map_pairs, MAP_REQUEST_HEADERS, RESULT_OK,
} from "../abi/imports";
import { clearRet, RET_LEN, RET_PTR, RET_U64 } from "../abi/memory";
import { PairTable } from "../abi/pairs";
import { ab, abLen, sameBytes } from "../bytes";
import { Config, MAX_NAME, NAME_IDENTITY, NAME_LOCATION } from "../config/model";
import { elementAt } from "../element";
import { normalizeAuthority, pathLength } from "../match";
import { Decision, setCreditGeneration } from "../quota/entry";
import { enforceQuota, ENFORCE_CONTENDED } from "../quota/shared";
import { sha256 } from "../sha256";
import { ByteSink } from "../sink";
import {
  begin as beginCredentials, CRED_FOUND, findCredential, forget, keyLen, keyPtr, noteHeader as noteCredential,
} from "./credentials";
import { admit, authorize, FREE, RequestFacts, route, Verdict, V_CHECK_KEY, V_CHECK_QUOTA, V_PASS } from "./decision";
import { KeyRef } from "./keyref";
import {
  feedGeneration, feedHasSet, foundConsumer, foundConsumerLen, foundExpires, foundKeyId, foundKeyIdLen, foundPlan, foundPlanLen,
  lookupFeed, FEED_FOUND,
} from "../keyfeed/lookup";
import { apply } from "./effects";
import { requestForm, FORM_ORIGIN } from "./form";
import { begin as beginIdentity, noteHeader as noteIdentity } from "./identity";
import { isAuthority, isMethod, isPath } from "./names";
import { normalizePath, pathNeedsNormalizing } from "./path";

export { FILTER_CONTINUE, FILTER_STOP } from "./effects";

const MAX_HOST_BYTES: usize = 1024;

const table = new PairTable();
const facts = new RequestFacts();
const verdict = new Verdict();
const quota = new Decision();
const key = new KeyRef();
/** The normalized path used for matching (only for paths that need it; see path.ts). */
const matchPath = new ByteSink();
const HOST = memory.data(<i32>MAX_HOST_BYTES);
const DIGEST = memory.data(32);

// Pairs of the pseudo-headers, from the last read (-1: absent).
let methodIdx = -1;
let pathIdx = -1;
let authorityIdx = -1;

@inline function nowSeconds(): i64 {
  if (proxy_get_current_time_nanoseconds(RET_U64) != RESULT_OK) return 0;
  return <i64>(load<u64>(RET_U64) / 1000000000);
}

/**
 * One pass over the decoded headers: the first :method, :path and :authority; every header whose name has the
 * length of a configured name is shown to identity.ts (forged identity headers) and credentials.ts (key headers).
 */
@inline function scanHeaders(cfg: Config): void {
  methodIdx = pathIdx = authorityIdx = -1;
  const lengths = changetype<usize>(cfg.nameLengths);
  for (let i = 0; i < table.count; i++) {
    const kp = table.keyPtr(i), kl = table.keyLen(i);
    if (kl == 0) continue;
    if (load<u8>(kp) == 0x3a) {
      // Configured names are never pseudo-headers (validate.ts isHeaderName has no ':').
      if (isPath(kp, kl)) { if (pathIdx < 0) pathIdx = i; }
      else if (isMethod(kp, kl)) { if (methodIdx < 0) methodIdx = i; }
      else if (isAuthority(kp, kl)) { if (authorityIdx < 0) authorityIdx = i; }
      continue;
    }
    if (kl > <usize>MAX_NAME) continue;
    const c = load<u8>(lengths + kl);
    if (c == 0) continue;
    if ((c & NAME_IDENTITY) != 0) noteIdentity(cfg, table, i, kp, kl);
    if ((c & NAME_LOCATION) != 0) noteCredential(cfg, i, kp, kl);
  }
}

/** Reads the request's facts: header block, target form, normalized host and path. */
@inline function readRequest(cfg: Config, r: RequestFacts): void {
  beginCredentials();
  beginIdentity();
  clearRet();
  r.headersOk = proxy_get_header_map_pairs(MAP_REQUEST_HEADERS, RET_PTR, RET_LEN) == RESULT_OK &&
    table.decode(<usize>load<u32>(RET_PTR), <usize>load<u32>(RET_LEN));
  if (!r.headersOk) {
    methodIdx = pathIdx = authorityIdx = -1;
    return;
  }
  scanHeaders(cfg);
  r.method = methodIdx >= 0 ? table.valuePtr(methodIdx) : 0;
  r.methodLen = methodIdx >= 0 ? table.valueLen(methodIdx) : 0;
  const path = pathIdx >= 0 ? table.valuePtr(pathIdx) : 0;
  const fullPathLen = pathIdx >= 0 ? table.valueLen(pathIdx) : 0;
  r.form = requestForm(r.method, r.methodLen, path, fullPathLen);
  if (r.form != FORM_ORIGIN) return;
  r.host = HOST;
  r.hostLen = 0;
  // Only a host-restricted API makes the host matter; without one it is not even normalized.
  if (cfg.hostMatters && authorityIdx >= 0 && table.valueLen(authorityIdx) <= MAX_HOST_BYTES) {
    r.hostLen = normalizeAuthority(table.valuePtr(authorityIdx), table.valueLen(authorityIdx), HOST);
  }
  r.path = path;
  r.pathLen = pathLength(path, fullPathLen);
  r.pathOk = true;
  if (pathNeedsNormalizing(r.path, r.pathLen)) {
    matchPath.reset();
    const buf = matchPath.reserve(r.pathLen);
    const n = normalizePath(path, r.pathLen, buf);
    r.pathOk = n >= 0;
    r.path = buf;
    r.pathLen = n >= 0 ? <usize>n : 0;
  }
}

/** Index of the configured plan with this id, or -1 (a feed key of a plan this configuration lacks: unknown). */
function planIndex(cfg: Config, p: usize, n: usize): i32 {
  const plans = cfg.plans;
  for (let i = 0; i < plans.length; i++) {
    const id = elementAt(plans, i).id;
    if (abLen(id) == n && sameBytes(ab(id), p, n)) return i;
  }
  return -1;
}

/** The key with this digest: the configuration's static keys first, then the process's key feed set. */
@inline function findKey(cfg: Config, digest: usize, k: KeyRef): void {
  k.reset();
  if (cfg.keys.count > 0) {
    const i = cfg.keys.find(digest);
    if (i >= 0) { k.fromTable(cfg.keys, i); return; }
  }
  if (cfg.keyFeed == null || lookupFeed(digest) != FEED_FOUND) return;
  k.keyId = foundKeyId();
  k.keyIdLen = foundKeyIdLen();
  k.consumer = foundConsumer();
  k.consumerLen = foundConsumerLen();
  k.expiresAt = <f64>foundExpires();
  k.notBefore = 0;
  k.plan = planIndex(cfg, foundPlan(), foundPlanLen());
}

export function onRequestHeaders(cfg: Config, ctx: u32): u32 {
  const r = facts, v = verdict;
  readRequest(cfg, r);
  route(cfg, r, v);
  let now: i64 = 0;
  if (v.kind == V_CHECK_KEY) {
    const path = pathIdx >= 0 ? table.valuePtr(pathIdx) : 0;
    const fullPathLen = pathIdx >= 0 ? table.valueLen(pathIdx) : 0;
    const credential = findCredential(cfg, table, path, fullPathLen);
    key.reset();
    if (credential == CRED_FOUND) {
      sha256(keyPtr, keyLen, DIGEST);
      findKey(cfg, DIGEST, key);
    }
    const feed = cfg.keyFeed;
    if (key.plan < 0 && feed != null && feed.allowWithoutSet && !feedHasSet()) {
      // whenNoKeys "allow": no key set yet in this process (the control service was down since Envoy started).
      v.kind = V_PASS;
    } else {
      now = nowSeconds();
      authorize(cfg, r, credential, key, now, v);
      if (v.kind == V_CHECK_QUOTA) {
        if (v.units == 0) {
          // A free operation spends nothing: the quota entry is not even read (two host calls fewer).
          admit(FREE, false, v);
        } else {
          const plan = elementAt(cfg.plans, v.plan);
          const opLimits = v.op >= 0 ? elementAt(elementAt(cfg.apis, v.api).operations!.ops, v.op).limits : null;
          // Balances come with the key feed, per key-set generation (after a feed lookup, the one the key was found in).
          setCreditGeneration(feed != null ? feedGeneration() : 0);
          const q = enforceQuota(plan, key.consumer, key.consumerLen, v.api, v.op, opLimits, now, quota, v.units);
          admit(quota, q == ENFORCE_CONTENDED, v);
        }
      }
    }
  } else if (v.counted) {
    now = nowSeconds();
  }
  const status = apply(cfg, v, key, r, table, pathIdx, ctx, now);
  forget();
  return status;
}
