// The pseudo-header names as integer words (assembly/http/names.ts) must be the names' bytes: the request and
// response scans recognise :path, :method, :authority and :status by them.
import {
  H_AUTHORITY, H_METHOD, H_PATH, H_STATUS, isAuthority, isMethod, isPath, isStatus,
} from "../../assembly/http/names";

function is(f: (p: usize, n: usize) => bool, s: string): bool {
  const b = String.UTF8.encode(s);
  return f(changetype<usize>(b), <usize>b.byteLength);
}

describe("pseudo-header names", () => {
  it("each name is recognised from its own bytes", () => {
    expect(isPath(changetype<usize>(H_PATH), <usize>H_PATH.byteLength)).toBe(true);
    expect(isMethod(changetype<usize>(H_METHOD), <usize>H_METHOD.byteLength)).toBe(true);
    expect(isAuthority(changetype<usize>(H_AUTHORITY), <usize>H_AUTHORITY.byteLength)).toBe(true);
    expect(isStatus(changetype<usize>(H_STATUS), <usize>H_STATUS.byteLength)).toBe(true);
  });
  it("and nothing else: other lengths, one byte off, another case", () => {
    expect(is(isPath, ":pat")).toBe(false);
    expect(is(isPath, ":pathx")).toBe(false);
    expect(is(isPath, ":patH")).toBe(false);
    expect(is(isPath, ";path")).toBe(false);
    expect(is(isMethod, ":methoD")).toBe(false);
    expect(is(isMethod, ":status")).toBe(false);
    expect(is(isAuthority, ":authorit_")).toBe(false);
    expect(is(isAuthority, ":Authority")).toBe(false);
    expect(is(isStatus, ":method")).toBe(false);
    expect(is(isStatus, ":statu")).toBe(false);
  });
});
