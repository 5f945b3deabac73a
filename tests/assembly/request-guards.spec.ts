// Pure pieces of the request path's guards: request-target forms, host normalization, `;` path parameters,
// method-blind matching and the Allow list, identity-header name folding, the WWW-Authenticate challenge, and the
// passPathForms configuration field.
import { normalizeAuthority, matchApi, matchPathHost, hostRestrictedPrefix } from "../../assembly/match";
import { normalizePath, pathNeedsNormalizing } from "../../assembly/http/path";
import {
  requestForm, formPasses, FORM_ORIGIN, FORM_ASTERISK, FORM_AUTHORITY, FORM_INVALID, PASS_ASTERISK, PASS_AUTHORITY,
} from "../../assembly/http/form";
import { allowedMethods, ALLOW_PTR } from "../../assembly/http/allow";
import { namesEqualDashFolded } from "../../assembly/http/headername";
import { decodeConfig } from "../../assembly/config/decode";
import { Config } from "../../assembly/config/model";

@inline function p(b: ArrayBuffer): usize { return changetype<usize>(b); }
@inline function n(b: ArrayBuffer): usize { return <usize>b.byteLength; }

function host(s: string): string {
  const b = String.UTF8.encode(s);
  const out = new ArrayBuffer(b.byteLength + 1);
  const len = normalizeAuthority(p(b), n(b), p(out));
  return len == 0 ? "<none>" : String.UTF8.decodeUnsafe(p(out), len);
}

function form(method: string, path: string | null): i32 {
  const m = String.UTF8.encode(method);
  if (path == null) return requestForm(p(m), n(m), 0, 0);
  const b = String.UTF8.encode(path);
  return requestForm(p(m), n(m), p(b), n(b));
}

function norm(s: string): string {
  const b = String.UTF8.encode(s);
  if (!pathNeedsNormalizing(p(b), n(b))) return s;
  const out = new ArrayBuffer(b.byteLength + 1);
  const len = normalizePath(p(b), n(b), p(out));
  return len < 0 ? "<dot>" : String.UTF8.decodeUnsafe(p(out), <usize>len);
}

function config(json: string): Config | null {
  const b = String.UTF8.encode(json);
  return decodeConfig(p(b), n(b)).config;
}

function configError(json: string): string {
  const b = String.UTF8.encode(json);
  return decodeConfig(p(b), n(b)).error;
}

describe("request-target forms", () => {
  it("origin-form is the only matchable form", () => {
    expect(form("GET", "/orders")).toBe(FORM_ORIGIN);
    expect(form("OPTIONS", "/")).toBe(FORM_ORIGIN);
    expect(form("CONNECT", "/tunnel")).toBe(FORM_ORIGIN); // extended CONNECT carries an origin-form :path
  });
  it("asterisk only for OPTIONS, authority only for CONNECT without a :path", () => {
    expect(form("OPTIONS", "*")).toBe(FORM_ASTERISK);
    expect(form("GET", "*")).toBe(FORM_INVALID);
    expect(form("OPTIONS", "**")).toBe(FORM_INVALID);
    expect(form("CONNECT", null)).toBe(FORM_AUTHORITY);
    expect(form("CONNECT", "")).toBe(FORM_AUTHORITY);
    expect(form("GET", null)).toBe(FORM_INVALID);
    expect(form("", null)).toBe(FORM_INVALID);
    expect(form("CONNECTX", null)).toBe(FORM_INVALID);
  });
  it("absolute-form and junk are invalid", () => {
    expect(form("GET", "http://x/orders")).toBe(FORM_INVALID);
    expect(form("GET", "orders")).toBe(FORM_INVALID);
    expect(form("GET", "")).toBe(FORM_INVALID);
    expect(form("CONNECT", "shop.example.com:443")).toBe(FORM_INVALID);
  });
  it("passes only opted-out forms", () => {
    expect(formPasses(FORM_ASTERISK, 0)).toBe(false);
    expect(formPasses(FORM_ASTERISK, PASS_ASTERISK)).toBe(true);
    expect(formPasses(FORM_AUTHORITY, PASS_ASTERISK)).toBe(false);
    expect(formPasses(FORM_AUTHORITY, PASS_AUTHORITY)).toBe(true);
    expect(formPasses(FORM_INVALID, PASS_ASTERISK | PASS_AUTHORITY)).toBe(false);
  });
});

const BAD_HOSTS: string[] = [
  "", ":", ":443", ".", "..", "shop.example.com..", ".shop.example.com", "a..b", "user@", "@", "shop example.com",
  "shop.example.com/x", "sh%6Fp.example.com", "shop.example.com:x", "shop.example.com:80:80", "shop.exämple.com",
  "shop,evil.com", "shop\x00.com", "[::1", "[]", "[::1]x", "::1",
];

describe("host normalization", () => {
  it("case, port, userinfo, one trailing dot", () => {
    expect(host("Shop.Example.COM:8443")).toBe("shop.example.com");
    expect(host("shop.example.com.")).toBe("shop.example.com");
    expect(host("shop.example.com.:80")).toBe("shop.example.com");
    expect(host("shop.example.com:")).toBe("shop.example.com");
    expect(host("user@shop.example.com")).toBe("shop.example.com");
    expect(host("user:pw@SHOP.example.com.:1")).toBe("shop.example.com");
    expect(host("a@b@shop.example.com")).toBe("shop.example.com");
    expect(host("my_host-1.internal")).toBe("my_host-1.internal");
  });
  it("IP literals keep their brackets", () => {
    expect(host("[::1]:8080")).toBe("[::1]");
    expect(host("[::1]")).toBe("[::1]");
    expect(host("[FE80::1%25eth0]")).toBe("[fe80::1%25eth0]");
    expect(host("10.0.0.5:80")).toBe("10.0.0.5");
  });
  it("no usable host", () => {
    for (let i = 0; i < BAD_HOSTS.length; i++) expect(host(BAD_HOSTS[i])).toBe("<none>", BAD_HOSTS[i]);
  });
});

describe("path parameters", () => {
  it("dropped from each segment before matching, slashes merged", () => {
    expect(norm("/orders;jsessionid=1")).toBe("/orders");
    expect(norm("/orders;jsessionid=1/7")).toBe("/orders/7");
    expect(norm("/;/orders")).toBe("/orders");
    expect(norm("/;x=1;y=2/orders;v=1/;/7")).toBe("/orders/7");
    expect(norm("/%6Frders;a=%41/7")).toBe("/orders/7");
    expect(norm("/orders%3Bx/7")).toBe("/orders%3Bx/7"); // an escaped ';' is data
    expect(norm("/orders;x\\7")).toBe("/orders/7");
  });
  it("a segment that is a dot segment once its parameters are gone is refused", () => {
    expect(norm("/..;/admin")).toBe("<dot>");
    expect(norm("/orders/.;x=1/7")).toBe("<dot>");
    expect(norm("/orders/%2e%2e;/admin")).toBe("<dot>");
    expect(norm("/orders;x%2F..%2Fadmin")).toBe("<dot>");
    expect(norm("/orders/...;/x")).toBe("/orders/.../x");
  });
});

const APIS = config('{"version":1,"plans":[],"keys":[],"apis":[' +
  '{"id":"read","pathPrefix":"/items","methods":["GET","HEAD"]},' +
  '{"id":"write","pathPrefix":"/items","methods":["POST","GET","PUT"]},' +
  '{"id":"shop","pathPrefix":"/items/special","hosts":["shop.example.com"],"methods":["DELETE"]},' +
  '{"id":"other","pathPrefix":"/other","methods":["GET"]}]}')!;

function allow(h: string, path: string): string {
  const hb = String.UTF8.encode(h), pb = String.UTF8.encode(path);
  const len = allowedMethods(APIS.apis, p(hb), n(hb), p(pb), n(pb));
  return String.UTF8.decodeUnsafe(ALLOW_PTR, len);
}

function pathHost(h: string, path: string, from: i32): i32 {
  const hb = String.UTF8.encode(h), pb = String.UTF8.encode(path);
  return matchPathHost(APIS.apis, p(hb), n(hb), p(pb), n(pb), from);
}

describe("method-blind matching and Allow", () => {
  it("finds the APIs on a path and host whatever the method", () => {
    const m = String.UTF8.encode("DELETE"), hb = String.UTF8.encode("x"), pb = String.UTF8.encode("/items/1");
    expect(matchApi(APIS.apis, p(m), n(m), p(hb), n(hb), p(pb), n(pb))).toBe(-1);
    expect(pathHost("x", "/items/1", 0)).toBe(0);
    expect(pathHost("x", "/items/1", 1)).toBe(1);
    expect(pathHost("x", "/items/1", 2)).toBe(-1);
    expect(pathHost("x", "/nothing", 0)).toBe(-1);
  });
  it("Allow is the union in configuration order, each method once", () => {
    expect(allow("x", "/items/1")).toBe("GET, HEAD, POST, PUT");
    expect(allow("shop.example.com", "/items/special/1")).toBe("GET, HEAD, POST, PUT, DELETE");
    expect(allow("x", "/other")).toBe("GET");
    expect(allow("x", "/none")).toBe("");
  });
  it("host-restricted prefixes", () => {
    const a = String.UTF8.encode("/items/special/x"), b = String.UTF8.encode("/items/x");
    expect(hostRestrictedPrefix(APIS.apis, p(a), n(a))).toBe(true);
    expect(hostRestrictedPrefix(APIS.apis, p(b), n(b))).toBe(false);
  });
  it("a long Allow list is cut at a whole method, never past its buffer", () => {
    let json = '{"version":1,"plans":[],"keys":[],"apis":[';
    for (let a = 0; a < 10; a++) {
      json += (a > 0 ? "," : "") + '{"id":"a' + a.toString() + '","pathPrefix":"/","methods":[';
      for (let k = 0; k < 16; k++) json += (k > 0 ? "," : "") + '"M' + String.fromCharCode(65 + a) + String.fromCharCode(65 + k) + 'XXXXXXXXXX"';
      json += "]}";
    }
    const cfg = config(json + "]}")!;
    const hb = String.UTF8.encode("x"), pb = String.UTF8.encode("/y");
    const len = allowedMethods(cfg.apis, p(hb), n(hb), p(pb), n(pb));
    expect(len).toBeLessThanOrEqual(1024);
    expect(len).toBeGreaterThan(1000);
    const v = String.UTF8.decodeUnsafe(ALLOW_PTR, len);
    expect(v.endsWith("XXXXXXXXXX")).toBe(true);
  });
});

function folded(a: string, b: string): bool {
  const x = String.UTF8.encode(a), y = String.UTF8.encode(b);
  return x.byteLength == y.byteLength && namesEqualDashFolded(p(x), p(y), n(x));
}

describe("identity header names, '-' and '_' alike", () => {
  it("folds only '-' and '_'", () => {
    expect(folded("x-tollgate-consumer", "x_tollgate_consumer")).toBe(true);
    expect(folded("x-tollgate-consumer", "x-tollgate_consumer")).toBe(true);
    expect(folded("x_custom", "x-custom")).toBe(true);
    expect(folded("x-tollgate-consumer", "x.tollgate.consumer")).toBe(false);
    expect(folded("x-tollgate-consumer", "x-tollgate-consumex")).toBe(false);
  });
});

function challenge(locations: string): string {
  const cfg = config('{"version":1,"apis":[],"plans":[],"keys":[]' + (locations.length > 0 ? ',"keyLocations":' + locations : "") + "}");
  return cfg == null ? "<rejected>" : String.UTF8.decode(cfg.wwwAuthenticate);
}

describe("WWW-Authenticate challenge", () => {
  it("from the first key location", () => {
    expect(challenge("")).toBe('APIKey realm="tollgate", in="header", name="x-api-key"');
    expect(challenge('[{"header":"authorization","prefix":"Bearer "}]')).toBe('Bearer realm="tollgate"');
    expect(challenge('[{"header":"authorization","prefix":"BEARER "},{"query":"k"}]')).toBe('Bearer realm="tollgate"');
    expect(challenge('[{"header":"authorization","prefix":"Bearer"}]')).toBe('APIKey realm="tollgate", in="header", name="authorization"');
    expect(challenge('[{"header":"authorization"}]')).toBe('APIKey realm="tollgate", in="header", name="authorization"');
    expect(challenge('[{"query":"k"},{"header":"authorization","prefix":"Bearer "}]')).toBe('APIKey realm="tollgate", in="query", name="k"');
  });
  it("quotes the name safely", () => {
    expect(challenge('[{"query":"a\\"b\\\\c"}]')).toBe('APIKey realm="tollgate", in="query", name="a\\"b\\\\c"');
    expect(challenge('[{"query":"é\\n"}]')).toBe('APIKey realm="tollgate", in="query", name="%C3%A9%0A"');
  });
});

describe("passPathForms", () => {
  it("defaults to none; accepts asterisk and authority in any order", () => {
    expect(config('{"version":1,"apis":[],"plans":[],"keys":[]}')!.passPathForms).toBe(0);
    expect(config('{"version":1,"apis":[],"plans":[],"keys":[],"passPathForms":[]}')!.passPathForms).toBe(0);
    expect(config('{"version":1,"apis":[],"plans":[],"keys":[],"passPathForms":["authority","asterisk"]}')!.passPathForms)
      .toBe(PASS_ASTERISK | PASS_AUTHORITY);
    expect(config('{"passPathForms":["asterisk"],"version":1,"apis":[],"plans":[],"keys":[]}')!.passPathForms).toBe(PASS_ASTERISK);
  });
  it("rejects anything else, naming the field", () => {
    expect(configError('{"version":1,"apis":[],"plans":[],"keys":[],"passPathForms":["absolute"]}'))
      .toBe("passPathForms[0]: must be one of asterisk, authority (at byte 71)");
    expect(configError('{"version":1,"apis":[],"plans":[],"keys":[],"passPathForms":"asterisk"}').startsWith("passPathForms: ")).toBe(true);
    expect(configError('{"version":1,"apis":[],"plans":[],"keys":[],"passPathForms":[1]}').startsWith("passPathForms[0]: must be a string")).toBe(true);
    expect(configError('{"version":1,"apis":[],"plans":[],"keys":[],"passPathForms":["Asterisk"]}').startsWith("passPathForms[0]: ")).toBe(true);
  });
});
