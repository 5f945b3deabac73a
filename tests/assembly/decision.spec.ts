// The request decision without a host (assembly/http/decision.ts): every verdict of route, authorize and admit from
// hand-made facts, and what a refusal is counted under.
import { decodeConfig } from "../../assembly/config/decode";
import { Config } from "../../assembly/config/model";
import { CRED_FOUND, CRED_INVALID, CRED_NONE } from "../../assembly/http/credentials";
import { KeyRef } from "../../assembly/http/keyref";
import {
  admit, authorize, CONTENDED, RequestFacts, route, Verdict, V_ALLOW, V_BAD_REQUEST, V_CHECK_KEY, V_CHECK_QUOTA,
  V_FORBIDDEN, V_INVALID_KEY, V_METHOD_NOT_ALLOWED, V_MISSING_KEY, V_PASS, V_PASS_UNMATCHED, V_QUOTA,
} from "../../assembly/http/decision";
import { FORM_ASTERISK, FORM_AUTHORITY, FORM_INVALID, FORM_ORIGIN } from "../../assembly/http/form";
import { Decision } from "../../assembly/quota/entry";

const D1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const D2 = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const D3 = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
const D4 = "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD";

function config(extra: string): Config {
  const json = '{"version":1' + extra + ',"apis":[' +
    '{"id":"orders","pathPrefix":"/orders","methods":["GET","POST"]},' +
    '{"id":"orders-admin","pathPrefix":"/orders","methods":["DELETE"]},' +
    '{"id":"shop","pathPrefix":"/shop","hosts":["shop.example.com"]},' +
    '{"id":"admin","pathPrefix":"/admin"}],' +
    '"plans":[{"id":"gold","limits":[],"apiIds":["orders","shop"]},{"id":"ops","limits":[],"apiIds":["orders-admin"]},' +
    '{"id":"none","limits":[],"apiIds":[]}],' +
    '"keys":[["' + D1 + '","k_gold","c1",0],["' + D2 + '","k_old","c1",0,1000],["' + D3 + '","k_later","c1",0,0,2000],' +
    '["' + D4 + '","k_ops","c2",1]]}';
  const b = String.UTF8.encode(json);
  return decodeConfig(changetype<usize>(b), <usize>b.byteLength).config!;
}

const CFG = config("");
const DENY = config(',"denyUnmatched":true,"passPathForms":["asterisk"]');
// Keys, in configuration order.
const GOLD = 0, OLD = 1, LATER = 2, OPS = 3;
const NOW: i64 = 1500;

// Facts point into buffers kept alive here.
const keep: ArrayBuffer[] = [];
function bytes(s: string): usize {
  const b = String.UTF8.encode(s);
  keep.push(b);
  return changetype<usize>(b);
}

function facts(method: string, path: string, host: string = "", form: i32 = FORM_ORIGIN): RequestFacts {
  const r = new RequestFacts();
  r.form = form;
  r.method = bytes(method); r.methodLen = <usize>String.UTF8.byteLength(method);
  r.path = bytes(path); r.pathLen = <usize>String.UTF8.byteLength(path);
  r.host = bytes(host); r.hostLen = <usize>String.UTF8.byteLength(host);
  return r;
}

function routed(cfg: Config, r: RequestFacts): Verdict {
  const v = new Verdict();
  route(cfg, r, v);
  return v;
}

const REF = new KeyRef();

function authorized(r: RequestFacts, credential: i32, key: i32, now: i64 = NOW): Verdict {
  const v = routed(CFG, r);
  expect(v.kind).toBe(V_CHECK_KEY);
  REF.reset();
  if (key >= 0) REF.fromTable(CFG.keys, key);
  authorize(CFG, r, credential, REF, now, v);
  return v;
}

describe("route: target form, host, path → pass, 400, 403 or check the key", () => {
  it("headers that could not be read: 400, not counted", () => {
    const r = facts("GET", "/orders/1");
    r.headersOk = false;
    const v = routed(CFG, r);
    expect(v.kind).toBe(V_BAD_REQUEST);
    expect(v.counted).toBe(false);
  });
  it("a target form other than origin-form: 400 unless passPathForms lets it through", () => {
    expect(routed(CFG, facts("OPTIONS", "*", "", FORM_ASTERISK)).kind).toBe(V_BAD_REQUEST);
    expect(routed(DENY, facts("OPTIONS", "*", "", FORM_ASTERISK)).kind).toBe(V_PASS);
    expect(routed(DENY, facts("CONNECT", "", "", FORM_AUTHORITY)).kind).toBe(V_BAD_REQUEST);
    expect(routed(DENY, facts("GET", "http://x/orders", "", FORM_INVALID)).kind).toBe(V_BAD_REQUEST);
  });
  it("a dot segment: 400 whatever the route", () => {
    const r = facts("GET", "/public");
    r.pathOk = false;
    expect(routed(CFG, r).kind).toBe(V_BAD_REQUEST);
  });
  it("no usable host on a host-restricted API's path: 400; with it, the key is checked", () => {
    expect(routed(CFG, facts("GET", "/shop/cart")).kind).toBe(V_BAD_REQUEST);
    const v = routed(CFG, facts("GET", "/shop/cart", "shop.example.com"));
    expect(v.kind).toBe(V_CHECK_KEY);
    expect(v.api).toBe(2);
    // Another host: no API matches, so the path is not protected.
    expect(routed(CFG, facts("GET", "/shop/cart", "other.example.com")).kind).toBe(V_PASS_UNMATCHED);
  });
  it("a matching API: check the key under it", () => {
    const v = routed(CFG, facts("POST", "/orders/7"));
    expect(v.kind).toBe(V_CHECK_KEY);
    expect(v.api).toBe(0);
    expect(v.guard).toBe(0);
    expect(v.counted).toBe(false);
  });
  it("a method no API on the path lists: still check the key, under the first API on the path", () => {
    const v = routed(CFG, facts("PATCH", "/orders/7"));
    expect(v.kind).toBe(V_CHECK_KEY);
    expect(v.api).toBe(-1);
    expect(v.guard).toBe(0);
  });
  it("no API on the path: pass (forged identity is still removed), or 403 with denyUnmatched, counted without ids", () => {
    expect(routed(CFG, facts("GET", "/public/x")).kind).toBe(V_PASS_UNMATCHED);
    const v = routed(DENY, facts("GET", "/public/x"));
    expect(v.kind).toBe(V_FORBIDDEN);
    expect(v.counted).toBe(true);
    expect(v.countApi).toBe(-1);
    expect(v.key).toBe(-1);
  });
});

describe("authorize: credential, digest lookup, clock, plan → 401, 403, 405 or check the quota", () => {
  it("no credential: 401 missing-key counted under the API, without a key id", () => {
    const v = authorized(facts("GET", "/orders/1"), CRED_NONE, -1);
    expect(v.kind).toBe(V_MISSING_KEY);
    expect(v.counted).toBe(true);
    expect(v.countApi).toBe(0);
    expect(v.key).toBe(-1);
  });
  it("a credential that cannot be a key, or an unknown digest: 401 invalid-key without a key id", () => {
    let v = authorized(facts("GET", "/orders/1"), CRED_INVALID, -1);
    expect(v.kind).toBe(V_INVALID_KEY);
    expect(v.key).toBe(-1);
    v = authorized(facts("GET", "/orders/1"), CRED_FOUND, -1);
    expect(v.kind).toBe(V_INVALID_KEY);
    expect(v.key).toBe(-1);
  });
  it("expired (now >= expiresAt) or not yet valid (now < notBefore): 401 invalid-key counted with the key id", () => {
    let v = authorized(facts("GET", "/orders/1"), CRED_FOUND, OLD, 1000);
    expect(v.kind).toBe(V_INVALID_KEY);
    expect(v.key).toBe(0); // known (its fields in the KeyRef)
    expect(authorized(facts("GET", "/orders/1"), CRED_FOUND, OLD, 999).kind).toBe(V_CHECK_QUOTA);
    v = authorized(facts("GET", "/orders/1"), CRED_FOUND, LATER, 1999);
    expect(v.kind).toBe(V_INVALID_KEY);
    expect(v.key).toBe(0); // known (its fields in the KeyRef)
    expect(authorized(facts("GET", "/orders/1"), CRED_FOUND, LATER, 2000).kind).toBe(V_CHECK_QUOTA);
  });
  it("the plan lacks the API: 403 counted under it with the key id", () => {
    const v = authorized(facts("GET", "/admin/x"), CRED_FOUND, GOLD);
    expect(v.kind).toBe(V_FORBIDDEN);
    expect(v.countApi).toBe(3);
    expect(v.key).toBe(0); // known (its fields in the KeyRef)
  });
  it("a method not listed: 405 under the first API on the path the plan includes, 403 if it includes none", () => {
    let v = authorized(facts("PATCH", "/orders/1"), CRED_FOUND, GOLD);
    expect(v.kind).toBe(V_METHOD_NOT_ALLOWED);
    expect(v.countApi).toBe(0);
    v = authorized(facts("PATCH", "/orders/1"), CRED_FOUND, OPS);
    expect(v.kind).toBe(V_METHOD_NOT_ALLOWED);
    expect(v.countApi).toBe(1);
    // ops lists DELETE on /orders, but a GET is another API's method: that API is not in its plan.
    v = authorized(facts("GET", "/orders/1"), CRED_FOUND, OPS);
    expect(v.kind).toBe(V_FORBIDDEN);
    expect(v.countApi).toBe(0);
  });
  it("a valid key whose plan includes the API: check the quota", () => {
    const v = authorized(facts("DELETE", "/orders/1"), CRED_FOUND, OPS);
    expect(v.kind).toBe(V_CHECK_QUOTA);
    expect(v.api).toBe(1);
    expect(v.key).toBe(0); // known (its fields in the KeyRef)
    expect(v.plan).toBe(1);
    expect(v.counted).toBe(false);
  });
});

function checked(): Verdict {
  const v = authorized(facts("GET", "/orders/1"), CRED_FOUND, GOLD);
  expect(v.kind).toBe(V_CHECK_QUOTA);
  return v;
}

describe("admit: the quota decision → 429 or allow", () => {  it("admitted: allow, with the decision for RateLimit-*", () => {
    const d = new Decision();
    d.admitted = true;
    const v = checked();
    admit(d, false, v);
    expect(v.kind).toBe(V_ALLOW);
    expect(v.quota).toBe(d);
    expect(v.counted).toBe(false);
  });
  it("over a limit: 429 counted under the API with the key id, with the decision for Retry-After", () => {
    const d = new Decision();
    d.admitted = false;
    const v = checked();
    admit(d, false, v);
    expect(v.kind).toBe(V_QUOTA);
    expect(v.counted).toBe(true);
    expect(v.countApi).toBe(0);
    expect(v.key).toBe(0); // known (its fields in the KeyRef)
    expect(v.quota).toBe(d);
  });
  it("every CAS attempt lost: 429 with no limit to show (Retry-After 1)", () => {
    const d = new Decision();
    d.admitted = true;
    const v = checked();
    admit(d, true, v);
    expect(v.kind).toBe(V_QUOTA);
    expect(v.quota).toBe(CONTENDED);
    expect(CONTENDED.admitted).toBe(false);
    expect(CONTENDED.hasLimit).toBe(false);
  });
});
