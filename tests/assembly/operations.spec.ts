// API operations (assembly/operations.ts, docs/filter-config.md "Operations"): template validation, decoding errors
// that name the field, the trie's matching precedence (literal, then {param}, then *, backtracking), method-aware
// matching, the decision's 404/405 after the key check, and quota units.
import { decodeConfig } from "../../assembly/config/decode";
import { Config, Limit } from "../../assembly/config/model";
import { CRED_FOUND, CRED_NONE } from "../../assembly/http/credentials";
import {
  authorize, RequestFacts, route, Verdict, V_CHECK_KEY, V_CHECK_QUOTA, V_FORBIDDEN, V_METHOD_NOT_ALLOWED, V_MISSING_KEY,
  V_NOT_FOUND,
} from "../../assembly/http/decision";
import { KeyRef } from "../../assembly/http/keyref";
import {
  Operation, Operations, T_DOT, T_ESCAPE, T_OK, T_PARAM, T_SYNTAX, T_WILDCARD_LAST, templateUnderPrefix, validateTemplate,
} from "../../assembly/operations";
import { Decision, decide, ENTRY_SIZE, entryInit, entrySetOthers, usedInWindow } from "../../assembly/quota/entry";
import { PER_HOUR, PER_MINUTE } from "../../assembly/window";
import { decode, error } from "./decode-config";

const keep: ArrayBuffer[] = [];
function bytes(s: string): usize {
  const b = String.UTF8.encode(s);
  keep.push(b);
  return changetype<usize>(b);
}
function len(s: string): usize { return <usize>String.UTF8.byteLength(s); }

function under(t: string, p: string): bool { return templateUnderPrefix(bytes(t), len(t), bytes(p), len(p)); }

/** Whether `got` starts with `want`; logs what it got otherwise (as-pect has no toStartWith). */
function starts(got: string, want: string): bool {
  if (got.startsWith(want)) return true;
  log(got);
  return false;
}

function tpl(s: string): i32 { return validateTemplate(bytes(s), len(s)); }

/** Operations from "METHOD path" lines, ids op0, op1, …; cost = index. */
function compile(lines: string[]): Operations {
  const ops = new Operations();
  for (let i = 0; i < lines.length; i++) {
    const sp = lines[i].indexOf(" ");
    ops.ops.push(new Operation(String.UTF8.encode("op" + i.toString()), String.UTF8.encode(lines[i].substring(0, sp)),
      String.UTF8.encode(lines[i].substring(sp + 1)), <u32>i));
  }
  expect(ops.build()).toBe(0);
  return ops;
}

function match(ops: Operations, method: string, path: string): i32 {
  return ops.match(bytes(path), len(path), bytes(method), len(method));
}

function api(ops: string, extra: string = ""): string {
  return '{"version":1,"apis":[{"id":"a","pathPrefix":"/v1"' + extra + ',"operations":[' + ops + ']}],"plans":[]}';
}

describe("templates", () => {
  it("accepts literals in normalized form, {name}, a final *, a trailing slash, the root", () => {
    expect(tpl("/")).toBe(T_OK);
    expect(tpl("/v1/users/")).toBe(T_OK);
    expect(tpl("/v1/users/{id}/files/*")).toBe(T_OK);
    expect(tpl("/v1/a%20b/%7B/!$&'()*+,=:@")).toBe(T_OK);
    expect(tpl("/v1/**")).toBe(T_OK); // a literal: only a segment that is exactly '*' is the wildcard
  });
  it("refuses what a normalized request path can never be, naming the rule", () => {
    expect(tpl("/v1//x")).toBe(T_SYNTAX);
    expect(tpl("/v1/a b")).toBe(T_SYNTAX);
    expect(tpl("/v1/a;b")).toBe(T_SYNTAX);
    expect(tpl("/v1/a?b")).toBe(T_SYNTAX);
    expect(tpl("/v1/*/x")).toBe(T_WILDCARD_LAST);
    expect(tpl("/v1/./x")).toBe(T_DOT);
    expect(tpl("/v1/..")).toBe(T_DOT);
    expect(tpl("/v1/%41")).toBe(T_ESCAPE); // 'A' is decoded before matching
    expect(tpl("/v1/%2F")).toBe(T_ESCAPE); // read as '/'
    expect(tpl("/v1/%2a")).toBe(T_ESCAPE); // lowercase hex never matches a request's escape
    expect(tpl("/v1/%2")).toBe(T_ESCAPE);
    expect(tpl("/v1/{}")).toBe(T_PARAM);
    expect(tpl("/v1/{a}b")).toBe(T_PARAM);
    expect(tpl("/v1/{a b}")).toBe(T_PARAM);
  });
  it("under the API's prefix: literal bytes agree up to the prefix's end or a {param} / * segment", () => {
    expect(under("/v1/users", "/v1")).toBe(true);
    expect(under("/v1/users", "/v1/")).toBe(true);
    expect(under("/v1", "/v1/")).toBe(false);
    expect(under("/v2/users", "/v1")).toBe(false);
    expect(under("/{tenant}/users", "/acme/")).toBe(true);
    expect(under("/*", "/static/")).toBe(true);
  });
});

describe("decoding operations", () => {
  it("decodes operations, costs (default 1) and unknownOperation", () => {
    const cfg = decode(api('{"id":"list","method":"GET","path":"/v1/users"},{"id":"get","method":"GET","path":"/v1/users/{id}","cost":5},' +
      '{"cost":0,"path":"/v1/health","method":"HEAD","id":"health"}', ',"unknownOperation":"pass"'))!;
    expect(cfg).not.toBeNull();
    const ops = cfg.apis[0].operations!;
    expect(ops.ops.length).toBe(3);
    expect(ops.ops[0].cost).toBe(1);
    expect(ops.ops[1].cost).toBe(5);
    expect(ops.ops[2].cost).toBe(0);
    expect(cfg.apis[0].unknownPass).toBe(true);
    expect(decode(api('{"id":"x","method":"GET","path":"/v1"}'))!.apis[0].unknownPass).toBe(false);
  });
  it("an empty list is no operations", () => {
    expect(decode(api(""))!.apis[0].operations).toBeNull();
  });
  it("errors name the field", () => {
    expect(starts(error(api('{"id":"x","method":"GET","path":"/v1/a","cost":1000001}')), "apis[0].operations[0].cost: must be an integer in 0..1000000")).toBe(true);
    expect(starts(error(api('{"id":"x","method":"GET","path":"/v1/a","cost":1.5}')), "apis[0].operations[0].cost: must be an integer")).toBe(true);
    expect(starts(error(api('{"id":"x","method":"GET","path":"/v1/a"},{"id":"y","method":"get","path":"/v1/a"}')), "apis[0].operations[1].method: must be 1-16 uppercase letters")).toBe(true);
    expect(starts(error(api('{"id":"x","method":"GET","path":"/v1/a"},{"id":"x","method":"POST","path":"/v1/a"}')), "apis[0].operations[1].id: duplicate operation id")).toBe(true);
    expect(starts(error(api('{"id":"x","method":"GET","path":"/v1/a/{p}"},{"id":"y","method":"GET","path":"/v1/a/{q}"}')), "apis[0].operations[1]: duplicate method and template")).toBe(true);
    expect(starts(error(api('{"id":"x","method":"GET","path":"/v1/*/b"}')), "apis[0].operations[0].path: '*' only as the last segment")).toBe(true);
    expect(starts(error(api('{"id":"x","method":"GET","path":"/v2/a"}')), "apis[0].operations[0].path: can never match: not under the API's pathPrefix")).toBe(true);
    expect(starts(error(api('{"id":"x","method":"GET"}')), "apis[0].operations[0].path: required")).toBe(true);
    expect(starts(error(api('{"id":"x","method":"GET","path":"/v1","extra":1}')), "apis[0].operations[0].extra: unknown field")).toBe(true);
    expect(starts(error(api('{"id":"x","method":"GET","path":"/v1"}', ',"unknownOperation":"allow"')), "apis[0].unknownOperation: must be one of reject, pass")).toBe(true);
    expect(starts(error('{"version":1,"apis":[{"id":"a","pathPrefix":"/","unknownOperation":"pass"}],"plans":[]}'), "apis[0].unknownOperation: only with operations")).toBe(true);
    expect(starts(error('{"version":1,"apis":[{"id":"a","pathPrefix":"/","methods":["GET"],"operations":[{"id":"x","method":"POST","path":"/"}]}],"plans":[]}'),
      "apis[0].operations[0].method: can never match: not one of the API's methods")).toBe(true);
  });
  it("refuses more than 4096 operations per API", () => {
    let ops = "";
    for (let i = 0; i < 4097; i++) ops += (i > 0 ? "," : "") + '{"id":"o' + i.toString() + '","method":"GET","path":"/v1/r' + i.toString() + '"}';
    expect(starts(error(api(ops)), "apis[0].operations: at most 4096 entries")).toBe(true);
    const cut = ops.substring(0, ops.lastIndexOf(",{"));
    expect(decode(api(cut))!.apis[0].operations!.ops.length).toBe(4096);
    // A duplicate id at the end of a full list is still found (ids are checked by hash, not pairwise).
    const dup = cut.substring(0, cut.lastIndexOf(",{")) + ',{"id":"o17","method":"GET","path":"/v1/last"}';
    expect(starts(error(api(dup)), "apis[0].operations[4095].id: duplicate operation id")).toBe(true);
  });
});

const OPS = compile([
  "GET /v1/users",            // 0
  "GET /v1/users/me",         // 1
  "GET /v1/users/{id}",       // 2
  "DELETE /v1/users/{id}",    // 3
  "GET /v1/users/{id}/repos", // 4
  "GET /v1/files/*",          // 5
  "GET /v1/files/{name}",     // 6
  "GET /v1/users/me/repos/*", // 7
  "HEAD /v1/users",           // 8
  "GET /v1/users/",           // 9
  "GET /",                    // 10
]);

describe("matching", () => {
  it("literal beats {param} beats * at each segment", () => {
    expect(match(OPS, "GET", "/v1/users/me")).toBe(1);
    expect(match(OPS, "GET", "/v1/users/42")).toBe(2);
    expect(match(OPS, "GET", "/v1/files/a")).toBe(6);
    expect(match(OPS, "GET", "/v1/files/a/b")).toBe(5);
  });
  it("backtracks when the literal branch has no operation for the path", () => {
    // /v1/users/me/repos has no GET under the literal 'me' (only me/repos/*): {id}/repos matches.
    expect(match(OPS, "GET", "/v1/users/me/repos")).toBe(4);
    expect(match(OPS, "GET", "/v1/users/me/repos/x")).toBe(7);
  });
  it("is method-aware: the best template with the request's method", () => {
    // DELETE /v1/users/me: 'me' has no DELETE, {id} has.
    expect(match(OPS, "DELETE", "/v1/users/me")).toBe(3);
    expect(match(OPS, "HEAD", "/v1/users")).toBe(8);
    expect(match(OPS, "HEAD", "/v1/users/1")).toBe(-1); // HEAD and GET are distinct methods
    expect(match(OPS, "POST", "/v1/users")).toBe(-1);
  });
  it("a trailing slash is its own template; {param} and * need a non-empty segment", () => {
    expect(match(OPS, "GET", "/v1/users/")).toBe(9);
    expect(match(OPS, "GET", "/v1/files/")).toBe(-1);
    expect(match(OPS, "GET", "/v1/files")).toBe(-1);
    expect(match(OPS, "GET", "/v1/files/a/")).toBe(5);
    expect(match(OPS, "GET", "/")).toBe(10);
    expect(match(OPS, "GET", "/v1")).toBe(-1);
    expect(match(OPS, "GET", "/v1/users/1/repos/x")).toBe(-1);
  });
  it("any method (for 404 versus 405)", () => {
    expect(OPS.match(bytes("/v1/users/1"), 11, 0, 0)).toBeGreaterThanOrEqual(0);
    expect(OPS.match(bytes("/v1/nothing"), 11, 0, 0)).toBe(-1);
  });
  it("1,000 operations: each found by its own path and method", () => {
    const lines: string[] = [];
    for (let i = 0; i < 250; i++) {
      const r = "/v1/r" + i.toString();
      lines.push("GET " + r); lines.push("POST " + r); lines.push("GET " + r + "/{id}"); lines.push("GET " + r + "/{id}/x/*");
    }
    const ops = compile(lines);
    for (let i = 0; i < 250; i++) {
      const r = "/v1/r" + i.toString();
      expect(match(ops, "GET", r)).toBe(i * 4);
      expect(match(ops, "POST", r)).toBe(i * 4 + 1);
      expect(match(ops, "GET", r + "/7")).toBe(i * 4 + 2);
      expect(match(ops, "GET", r + "/7/x/y/z")).toBe(i * 4 + 3);
      expect(match(ops, "DELETE", r)).toBe(-1);
    }
    expect(match(ops, "GET", "/v1/r250")).toBe(-1);
  });
});

const D1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const D2 = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
function opsConfig(unknown: string): Config {
  const json = '{"version":1,"apis":[{"id":"gh","pathPrefix":"/gh","unknownOperation":"' + unknown + '","operations":[' +
    '{"id":"get","method":"GET","path":"/gh/repos/{owner}/{repo}","cost":3},{"id":"del","method":"DELETE","path":"/gh/repos/{owner}/{repo}"},' +
    '{"id":"meta","method":"GET","path":"/gh/meta","cost":0}]},{"id":"other","pathPrefix":"/other"}],' +
    '"plans":[{"id":"p","limits":[],"apiIds":["gh"]},{"id":"q","limits":[],"apiIds":["other"]}],' +
    '"keys":[["' + D1 + '","k1","c1",0],["' + D2 + '","k2","c1",1]]}';
  const b = String.UTF8.encode(json);
  return decodeConfig(changetype<usize>(b), <usize>b.byteLength).config!;
}
const REJECT = opsConfig("reject");
const PASS = opsConfig("pass");

function facts(method: string, path: string): RequestFacts {
  const r = new RequestFacts();
  r.method = bytes(method); r.methodLen = len(method);
  r.path = bytes(path); r.pathLen = len(path);
  return r;
}
function decided(cfg: Config, method: string, path: string, credential: i32, key: i32): Verdict {
  const r = facts(method, path);
  const v = new Verdict();
  route(cfg, r, v);
  expect(v.kind).toBe(V_CHECK_KEY);
  const k = new KeyRef();
  if (key >= 0) k.fromTable(cfg.keys, key);
  authorize(cfg, r, credential, k, 100, v);
  return v;
}

describe("decision with operations", () => {
  it("a matched operation: check the quota, spending its cost", () => {
    let v = decided(REJECT, "GET", "/gh/repos/a/b", CRED_FOUND, 0);
    expect(v.kind).toBe(V_CHECK_QUOTA);
    expect(v.op).toBe(0);
    expect(v.units).toBe(3);
    v = decided(REJECT, "GET", "/gh/meta", CRED_FOUND, 0);
    expect(v.units).toBe(0);
  });
  it("no operation: 401 first, then 403, then 405 when the path matches another method's template, else 404", () => {
    expect(decided(REJECT, "PUT", "/gh/repos/a/b", CRED_NONE, -1).kind).toBe(V_MISSING_KEY);
    expect(decided(REJECT, "GET", "/gh/nothing", CRED_NONE, -1).kind).toBe(V_MISSING_KEY);
    expect(decided(REJECT, "GET", "/gh/nothing", CRED_FOUND, 1).kind).toBe(V_FORBIDDEN);
    let v = decided(REJECT, "PUT", "/gh/repos/a/b", CRED_FOUND, 0);
    expect(v.kind).toBe(V_METHOD_NOT_ALLOWED);
    expect(v.opMiss).toBe(true);
    expect(v.counted).toBe(true);
    expect(v.countApi).toBe(0);
    v = decided(REJECT, "GET", "/gh/repos/a", CRED_FOUND, 0);
    expect(v.kind).toBe(V_NOT_FOUND);
    expect(v.countApi).toBe(0);
  });
  it("unknownOperation pass: the key is checked and the request is one unit under the API", () => {
    const v = decided(PASS, "GET", "/gh/nothing", CRED_FOUND, 0);
    expect(v.kind).toBe(V_CHECK_QUOTA);
    expect(v.op).toBe(-1);
    expect(v.units).toBe(1);
    expect(decided(PASS, "GET", "/gh/nothing", CRED_NONE, -1).kind).toBe(V_MISSING_KEY);
  });
});

const T: i64 = 1767225600 + 30;
describe("quota in units", () => {
  it("admits iff used + units <= limit for every limit, and counts the units in every period", () => {
    const p = heap.alloc(ENTRY_SIZE);
    entryInit(p);
    const limits: Limit[] = [new Limit(10, PER_MINUTE), new Limit(100, PER_HOUR)];
    const d = new Decision();
    decide(p, limits, T, d, 1, 4);
    expect(d.admitted).toBe(true);
    expect(d.remaining).toBe(6);
    decide(p, limits, T, d, 1, 6);
    expect(d.admitted).toBe(true);
    expect(d.remaining).toBe(0);
    expect(usedInWindow(p, PER_HOUR, <f64>1767225600)).toBe(10);
    decide(p, limits, T, d, 1, 1);
    expect(d.admitted).toBe(false);
    expect(d.limit).toBe(10);
  });
  it("a request costing more than what is left is refused, showing what is left; the fleet's others count too", () => {
    const p = heap.alloc(ENTRY_SIZE);
    entryInit(p);
    const limits: Limit[] = [new Limit(10, PER_MINUTE)];
    const d = new Decision();
    entrySetOthers(p, PER_MINUTE, <f64>1767225600, 3);
    decide(p, limits, T, d, 1, 5);
    expect(d.admitted).toBe(true);
    expect(d.remaining).toBe(2);
    decide(p, limits, T, d, 1, 3);
    expect(d.admitted).toBe(false);
    expect(d.remaining).toBe(2);
    expect(usedInWindow(p, PER_MINUTE, <f64>1767225600)).toBe(8);
    decide(p, limits, T, d, 1, 11);
    expect(d.admitted).toBe(false);
  });
});
