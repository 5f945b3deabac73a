// Whether this Envoy process has learnt the fleet's counts since it started ("primed", docs/filter.md): a restart
// forgets every window's count, so until one sync report has been answered the quota admits only a share of the
// hour/day/month limits. The flag lives in shared data (`tg:primed`): process-wide, it survives VM reloads and is
// gone on an Envoy restart, exactly like the counts it vouches for. Each VM caches it, so once primed the hot path
// makes no extra host call.

import { proxy_get_shared_data, proxy_set_shared_data, RESULT_OK } from "../abi/imports";
import { clearRet, RET_CAS, RET_LEN, RET_PTR } from "../abi/memory";

const KEY = memory.data<u8>([0x74, 0x67, 0x3a, 0x70, 0x72, 0x69, 0x6d, 0x65, 0x64]); // "tg:primed"
const KEY_LEN: usize = 9;
const VALUE = memory.data<u8>([0x31]); // "1"

let primedLocal = false;
/** The configured usage.coldStartShare; 1 = no restriction (no usage section: nothing to learn from). */
let share: f64 = 1;

export function setColdStartShare(s: f64): void { share = s; }

/** Whether the process is primed; asks shared data only while this VM has not seen the flag yet. */
export function isPrimed(): bool {
  if (primedLocal) return true;
  clearRet();
  if (proxy_get_shared_data(KEY, KEY_LEN, RET_PTR, RET_LEN, RET_CAS) == RESULT_OK && load<u32>(RET_LEN) > 0) primedLocal = true;
  return primedLocal;
}

/** Records a successful sync for the whole process (unconditional write: the flag only ever goes from absent to set). */
export function markPrimed(): void {
  proxy_set_shared_data(KEY, KEY_LEN, VALUE, 1, 0);
  primedLocal = true;
}

/** The cold-start share to decide with now: 1 when unrestricted (primed, or no usage section). */
export function quotaShare(): f64 {
  if (share >= 1) return 1;
  return isPrimed() ? 1 : share;
}
