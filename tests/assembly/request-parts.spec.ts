import { percentDecode } from "../../assembly/percent";
import { matchApi, normalizeAuthority, pathLength } from "../../assembly/match";
import { findParam, paramValue, paramValueLen, pathWithout } from "../../assembly/http/query";
import { normalizePath, pathNeedsNormalizing } from "../../assembly/http/path";
import { decodeConfig } from "../../assembly/config/decode";
import { ByteSink } from "../../assembly/sink";

function pd(s: string): string {
  const b = String.UTF8.encode(s);
  const out = new ArrayBuffer(b.byteLength + 1);
  const n = percentDecode(changetype<usize>(b), <usize>b.byteLength, changetype<usize>(out));
  if (n < 0) return "<invalid>";
  return String.UTF8.decodeUnsafe(changetype<usize>(out), <usize>n);
}

function norm(s: string): string {
  const b = String.UTF8.encode(s);
  const out = new ArrayBuffer(b.byteLength + 1);
  const n = normalizeAuthority(changetype<usize>(b), <usize>b.byteLength, changetype<usize>(out));
  return String.UTF8.decodeUnsafe(changetype<usize>(out), n);
}

describe("percent-decoding", () => {
  it("decodes escapes and plus", () => {
    expect(pd("abc")).toBe("abc");
    expect(pd("a%20b")).toBe("a b");
    expect(pd("a%2Bb+c")).toBe("a+b c");
    expect(pd("%e2%82%ac")).toBe("€");
    expect(pd("")).toBe("");
  });
  it("rejects truncated or non-hex escapes", () => {
    expect(pd("%")).toBe("<invalid>");
    expect(pd("%4")).toBe("<invalid>");
    expect(pd("ab%zz")).toBe("<invalid>");
    expect(pd("%g0")).toBe("<invalid>");
  });
});

describe("authority and path", () => {
  it("lowercases and drops the port", () => {
    expect(norm("Shop.Example.COM:8443")).toBe("shop.example.com");
    expect(norm("shop.example.com")).toBe("shop.example.com");
    expect(norm("[::1]:80")).toBe("[::1]");
    expect(norm("[::1]")).toBe("[::1]");
    expect(norm(":")).toBe("");
  });
  it("path before '?'", () => {
    const b = String.UTF8.encode("/orders/1?api_key=x");
    expect(pathLength(changetype<usize>(b), <usize>b.byteLength)).toBe(9);
  });
});


const APIS = String.UTF8.encode('{"version":1,"plans":[],"keys":[],"apis":[' +
  '{"id":"a1","pathPrefix":"/orders/special","methods":["POST"]},' +
  '{"id":"a2","pathPrefix":"/orders","hosts":["shop.example.com","*.example.org"]},' +
  '{"id":"a3","pathPrefix":"/"}]}');
const CFG = decodeConfig(changetype<usize>(APIS), <usize>APIS.byteLength).config!;

function m(method: string, host: string, path: string): i32 {
  const mb = String.UTF8.encode(method), hb = String.UTF8.encode(host), pb = String.UTF8.encode(path);
  return matchApi(CFG.apis, changetype<usize>(mb), <usize>mb.byteLength, changetype<usize>(hb), <usize>hb.byteLength, changetype<usize>(pb), <usize>pb.byteLength);
}

describe("API matching (first match in array order)", () => {
  it("prefix, method and host", () => {
    expect(m("POST", "shop.example.com", "/orders/special/1")).toBe(0);
    expect(m("GET", "shop.example.com", "/orders/special/1")).toBe(1);
    expect(m("GET", "other.com", "/orders/1")).toBe(2);
    expect(m("GET", "a.example.org", "/orders")).toBe(1);
    expect(m("GET", "example.org", "/orders")).toBe(2); // wildcard does not match the apex
    expect(m("GET", "x", "/")).toBe(2);
    expect(m("GET", "x", "")).toBe(-1);
  });
});

describe("query parameters", () => {
  it("finds the first parameter by exact name", () => {
    const b = String.UTF8.encode("/p?x=1&api_key=abc&api_key=def#frag");
    const n = String.UTF8.encode("api_key");
    expect(findParam(changetype<usize>(b), <usize>b.byteLength, changetype<usize>(n), <usize>n.byteLength)).toBe(true);
    expect(String.UTF8.decodeUnsafe(paramValue, paramValueLen)).toBe("abc");
    const n2 = String.UTF8.encode("api");
    expect(findParam(changetype<usize>(b), <usize>b.byteLength, changetype<usize>(n2), <usize>n2.byteLength)).toBe(false);
  });
  it("removes every copy of the parameter and keeps the rest", () => {
    const sink = new ByteSink();
    const n = String.UTF8.encode("api_key");
    const names = new StaticArray<usize>(2);
    names[0] = changetype<usize>(n); names[1] = <usize>n.byteLength;
    let b = String.UTF8.encode("/p?x=1&api_key=abc&y=%20&api_key=def");
    expect(pathWithout(changetype<usize>(b), <usize>b.byteLength, names, 1, sink)).toBe(true);
    expect(String.UTF8.decodeUnsafe(sink.ptr, sink.len)).toBe("/p?x=1&y=%20");
    b = String.UTF8.encode("/p?api_key=abc");
    expect(pathWithout(changetype<usize>(b), <usize>b.byteLength, names, 1, sink)).toBe(true);
    expect(String.UTF8.decodeUnsafe(sink.ptr, sink.len)).toBe("/p");
    b = String.UTF8.encode("/p?a=1");
    expect(pathWithout(changetype<usize>(b), <usize>b.byteLength, names, 1, sink)).toBe(false);
  });
  it("compares names percent-decoded, so an encoded copy of the key is found and removed too", () => {
    const n = String.UTF8.encode("api_key");
    let b = String.UTF8.encode("/p?x=1&api%5Fkey=abc");
    expect(findParam(changetype<usize>(b), <usize>b.byteLength, changetype<usize>(n), <usize>n.byteLength)).toBe(true);
    expect(String.UTF8.decodeUnsafe(paramValue, paramValueLen)).toBe("abc");
    b = String.UTF8.encode("/p?%61pi%5fkey=abc");
    expect(findParam(changetype<usize>(b), <usize>b.byteLength, changetype<usize>(n), <usize>n.byteLength)).toBe(true);
    // Not the same name: a malformed escape stays literal, and a longer decoded name does not match.
    b = String.UTF8.encode("/p?api%5Gkey=abc&api_key2=x&api%5F=y");
    expect(findParam(changetype<usize>(b), <usize>b.byteLength, changetype<usize>(n), <usize>n.byteLength)).toBe(false);
    const sink = new ByteSink();
    const names = new StaticArray<usize>(2);
    names[0] = changetype<usize>(n); names[1] = <usize>n.byteLength;
    b = String.UTF8.encode("/p?api%5Fkey=abc&y=1&api_key=def&api%5Gkey=z");
    expect(pathWithout(changetype<usize>(b), <usize>b.byteLength, names, 1, sink)).toBe(true);
    expect(String.UTF8.decodeUnsafe(sink.ptr, sink.len)).toBe("/p?y=1&api%5Gkey=z");
  });
});

function np(s: string): string {
  const b = String.UTF8.encode(s);
  if (!pathNeedsNormalizing(changetype<usize>(b), <usize>b.byteLength)) return "=" + s;
  const out = new ArrayBuffer(b.byteLength + 1);
  const n = normalizePath(changetype<usize>(b), <usize>b.byteLength, changetype<usize>(out));
  if (n < 0) return "<refused>";
  return String.UTF8.decodeUnsafe(changetype<usize>(out), <usize>n);
}

describe("path normalization for matching", () => {
  it("leaves ordinary paths alone (no copy)", () => {
    expect(np("/orders/7")).toBe("=/orders/7");
    expect(np("/v1/a.b/c..d")).toBe("=/v1/a.b/c..d");
    expect(np("")).toBe("=");
  });
  it("decodes unreserved escapes, reads \\ %2F %5C as '/', merges slashes", () => {
    expect(np("/%6Frders/1")).toBe("/orders/1");
    expect(np("//orders///1")).toBe("/orders/1");
    expect(np("/orders\\1")).toBe("/orders/1");
    expect(np("/orders%2f1%5C2")).toBe("/orders/1/2");
    expect(np("/a%20b/%7e%2D")).toBe("/a%20b/~-");
    expect(np("/.well-known/x")).toBe("/.well-known/x");
    expect(np("/a%2")).toBe("/a%2");
    expect(np("/a%zz")).toBe("/a%zz");
  });
  it("refuses '.' and '..' segments, however spelled", () => {
    const bad: string[] = ["/orders/../admin", "/./orders", "/orders/.", "/orders/..", "/%2e%2E/admin", "/orders%2F..%2Fadmin",
      "/orders\\..\\admin", "/orders//..//admin", "..", ".", "/.%2e/x", "/orders/%2e"];
    for (let i = 0; i < bad.length; i++) expect(np(bad[i])).toBe("<refused>", bad[i]);
  });
});
