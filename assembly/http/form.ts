// Which request-target form a request carries (RFC 9112 §3.2), decided from :method and :path before any API
// matching. Only origin-form ("/…") can be matched against path prefixes; anything else would look unmatched and
// pass without a key, so the request path refuses it unless the operator opted that form out (passPathForms).

import { bytesEqual } from "../bytes";

export const FORM_ORIGIN = 0;
/** `OPTIONS *`: a :path of exactly "*" on an OPTIONS request. */
export const FORM_ASTERISK = 1;
/** CONNECT without a :path (Envoy carries CONNECT's authority-form target in :authority only). */
export const FORM_AUTHORITY = 2;
/** Anything else: absolute-form ("http://x/orders"), a missing or empty :path, "*" on another method, junk. */
export const FORM_INVALID = 3;

/** Bits of Config.passPathForms. */
export const PASS_ASTERISK: u32 = 1;
export const PASS_AUTHORITY: u32 = 2;

const OPTIONS = String.UTF8.encode("OPTIONS");
const CONNECT = String.UTF8.encode("CONNECT");

/** The form of a request (methods compared as sent: Envoy keeps them uppercase). An empty :path counts as none. */
export function requestForm(method: usize, methodLen: usize, path: usize, pathLen: usize): i32 {
  if (pathLen > 0) {
    const c = load<u8>(path);
    if (c == 0x2f) return FORM_ORIGIN;
    if (c == 0x2a && pathLen == 1 && bytesEqual(method, methodLen, changetype<usize>(OPTIONS), 7)) return FORM_ASTERISK;
    return FORM_INVALID;
  }
  if (bytesEqual(method, methodLen, changetype<usize>(CONNECT), 7)) return FORM_AUTHORITY;
  return FORM_INVALID;
}

/** Whether a request of `form` passes untouched under the configured passPathForms bits. */
export function formPasses(form: i32, pass: u32): bool {
  return (form == FORM_ASTERISK && (pass & PASS_ASTERISK) != 0) || (form == FORM_AUTHORITY && (pass & PASS_AUTHORITY) != 0);
}
