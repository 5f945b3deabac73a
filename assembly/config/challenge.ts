// The WWW-Authenticate challenge sent with every 401 (RFC 9110 §11.6.1 requires one), built once per configuration
// from the first key location, so a client learns where the key goes: `Bearer realm="tollgate"` for an
// `authorization` header with the `Bearer ` prefix, else `APIKey realm="tollgate", in="header"|"query", name="<name>"`.

import { sameBytes, startsWithIgnoreCase } from "../bytes";
import { ByteSink } from "../sink";
import { KeyLocation } from "./model";

const AUTHORIZATION = String.UTF8.encode("authorization");
const BEARER = String.UTF8.encode("bearer ");

/** The `Authorization: Bearer <key>` location (the prefix is matched case-insensitively, as requests are). */
function isBearer(loc: KeyLocation): bool {
  if (loc.isQuery || loc.name.byteLength != AUTHORIZATION.byteLength || loc.prefix.byteLength != BEARER.byteLength) return false;
  if (!sameBytes(changetype<usize>(loc.name), changetype<usize>(AUTHORIZATION), <usize>AUTHORIZATION.byteLength)) return false;
  return startsWithIgnoreCase(changetype<usize>(loc.prefix), <usize>loc.prefix.byteLength, changetype<usize>(BEARER), <usize>BEARER.byteLength);
}

@inline function hexDigit(v: u32): u8 {
  return <u8>(v < 10 ? 0x30 + v : 0x37 + v);
}

/** Appends `name` as a quoted-string: '"' and '\' escaped, control and non-ASCII bytes percent-encoded. */
function quoted(out: ByteSink, name: ArrayBuffer): void {
  out.byte(0x22);
  const p = changetype<usize>(name);
  for (let i: usize = 0; i < <usize>name.byteLength; i++) {
    const c = <u32>load<u8>(p + i);
    if (c == 0x22 || c == 0x5c) { out.byte(0x5c); out.byte(<u8>c); }
    else if (c < 0x20 || c >= 0x7f) { out.byte(0x25); out.byte(hexDigit(c >> 4)); out.byte(hexDigit(c & 15)); }
    else out.byte(<u8>c);
  }
  out.byte(0x22);
}

/** The challenge for key locations `locs` (the decoder never leaves the list empty). */
export function challengeFor(locs: KeyLocation[]): ArrayBuffer {
  const out = new ByteSink();
  if (locs.length > 0 && isBearer(unchecked(locs[0]))) {
    out.ascii("Bearer realm=\"tollgate\"");
  } else {
    out.ascii("APIKey realm=\"tollgate\"");
    if (locs.length > 0) {
      const loc = unchecked(locs[0]);
      out.ascii(loc.isQuery ? ", in=\"query\", name=" : ", in=\"header\", name=");
      quoted(out, loc.name);
    }
  }
  const b = new ArrayBuffer(<i32>out.len);
  memory.copy(changetype<usize>(b), out.ptr, out.len);
  out.release();
  return b;
}
