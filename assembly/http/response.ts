// Response side of an allowed stream: record the upstream status class (for usage) and add RateLimit-* headers.
// Two host calls with RateLimit headers (pairs get + set), one without (the :status value).

import {
  proxy_get_header_map_pairs, proxy_get_header_map_value, proxy_set_header_map_pairs, MAP_RESPONSE_HEADERS, RESULT_OK,
} from "../abi/imports";
import { clearRet, RET_LEN, RET_PTR } from "../abi/memory";
import { PairTable, PairWriter } from "../abi/pairs";
import { ab, abLen, sameBytes } from "../bytes";
import {
  F_ALLOWED, F_IETF, F_LEGACY, F_RATELIMIT, F_WOULD_REJECT, S_API, S_API_LEN, S_FLAGS, S_KEY, S_KEY_LEN, S_LID,
  S_LID_LEN, S_MINUTE, S_OP, S_OP_LEN, S_RL_LIMIT, S_RL_REMAINING, S_RL_RESET, S_RL_WINDOW, S_STATUS, S_UNITS,
  streamGet, streamRelease,
} from "../streams";
import { countRequest, OUTCOME_ALLOWED } from "../usage/counters";
import {
  H_RATELIMIT, H_RATELIMIT_LIMIT, H_RATELIMIT_POLICY, H_RATELIMIT_REMAINING, H_RATELIMIT_RESET, H_STATUS, isStatus,
} from "./names";
import { addIetfHeaders, addRateLimitHeaders } from "./problem";
import { parseStatus } from "./status";

const table = new PairTable();
const writer = new PairWriter();
const F_COUNTED: u32 = 4;

/**
 * Whether a response header is one of ours (`ratelimit-limit` and `-reset` are 15 bytes, `-remaining` 19; the IETF
 * `ratelimit` 9 and `ratelimit-policy` 16). Every style's names are ours: an upstream's would contradict ours.
 */
@inline function isRateLimitHeader(kp: usize, kl: usize): bool {
  if (kl == 15) return sameBytes(kp, ab(H_RATELIMIT_LIMIT), 15) || sameBytes(kp, ab(H_RATELIMIT_RESET), 15);
  if (kl == 9) return sameBytes(kp, ab(H_RATELIMIT), 9);
  if (kl == 16) return sameBytes(kp, ab(H_RATELIMIT_POLICY), 16);
  return kl == 19 && sameBytes(kp, ab(H_RATELIMIT_REMAINING), 19);
}

export function onResponseHeaders(ctx: u32): u32 {
  const s = streamGet(ctx);
  if (s == 0) return 0;
  const flags = load<u32>(s, S_FLAGS);
  if ((flags & F_RATELIMIT) == 0) {
    clearRet();
    if (proxy_get_header_map_value(MAP_RESPONSE_HEADERS, ab(H_STATUS), abLen(H_STATUS), RET_PTR, RET_LEN) == RESULT_OK) {
      store<u16>(s, <u16>parseStatus(<usize>load<u32>(RET_PTR), <usize>load<u32>(RET_LEN)), S_STATUS);
    }
    return 0;
  }
  clearRet();
  if (proxy_get_header_map_pairs(MAP_RESPONSE_HEADERS, RET_PTR, RET_LEN) != RESULT_OK ||
      !table.decode(<usize>load<u32>(RET_PTR), <usize>load<u32>(RET_LEN))) {
    return 0;
  }
  writer.reset();
  const n = table.count;
  for (let i = 0; i < n; i++) {
    const kp = table.keyPtr(i), kl = table.keyLen(i);
    // Names of the lengths of ":status" (7) and of ours (9, 15, 16, 19) only.
    if (kl != 7 && kl != 15 && kl != 19 && kl != 9 && kl != 16) continue;
    if (isStatus(kp, kl)) {
      store<u16>(s, <u16>parseStatus(table.valuePtr(i), table.valueLen(i)), S_STATUS);
    } else if (isRateLimitHeader(kp, kl)) {
      // Our values replace any the upstream set.
      table.skip(i);
    }
  }
  if ((flags & F_LEGACY) != 0) addRateLimitHeaders(writer, load<u32>(s, S_RL_LIMIT), load<u32>(s, S_RL_REMAINING), load<u32>(s, S_RL_RESET));
  if ((flags & F_IETF) != 0) {
    addIetfHeaders(writer, s + S_LID, <usize>load<u8>(s, S_LID_LEN), load<u32>(s, S_RL_LIMIT), load<u32>(s, S_RL_WINDOW),
      load<u32>(s, S_RL_REMAINING), load<u32>(s, S_RL_RESET));
  }
  writer.finishFrom(table);
  proxy_set_header_map_pairs(MAP_RESPONSE_HEADERS, writer.ptr, writer.len);
  return 0;
}

/** Counts an allowed stream once (on_log, or on_delete if log never came). */
@inline function countStream(s: usize): void {
  const flags = load<u32>(s, S_FLAGS);
  if ((flags & F_ALLOWED) == 0 || (flags & F_COUNTED) != 0) return;
  store<u32>(s, flags | F_COUNTED, S_FLAGS);
  const minute = load<f64>(s, S_MINUTE);
  if (minute < 0) return; // usage reporting off when the request was decided
  const status = <i32>load<u16>(s, S_STATUS);
  const cls = status >= 100 && status < 600 ? status / 100 : 0;
  countRequest(minute, s + S_KEY, <usize>load<u8>(s, S_KEY_LEN), s + S_API, <usize>load<u8>(s, S_API_LEN), OUTCOME_ALLOWED, cls, load<u32>(s, S_UNITS),
    s + S_OP, <usize>load<u8>(s, S_OP_LEN), (flags & F_WOULD_REJECT) != 0);
}

export function onLog(ctx: u32): void {
  const s = streamGet(ctx);
  if (s != 0) countStream(s);
}

export function onDelete(ctx: u32): void {
  const s = streamGet(ctx);
  if (s == 0) return;
  countStream(s);
  streamRelease(ctx);
}
