import { decodeConfig } from "../../assembly/config/decode";
import { decode, error } from "./decode-config";
import { PER_DAY, PER_MINUTE } from "../../assembly/window";


const EXAMPLE = '{"apis":[{"id":"api_orders","methods":["GET","POST"],"pathPrefix":"/orders"}],' +
  '"keys":[["n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg","key_7Hq2mZ9xKw","con_acme00001",0,1.7987616e+09]],' +
  '"plans":[{"apiIds":["api_orders"],"id":"pln_gold","limits":[{"per":"minute","requests":100},{"per":"day","requests":1e4}]}],' +
  '"version":1}';

describe("configuration decoding", () => {
  it("decodes the documented example (exponent notation, sorted keys) with defaults", () => {
    const c = decode(EXAMPLE);
    expect(c).not.toBeNull();
    const cfg = c!;
    expect(cfg.apis.length).toBe(1);
    expect(cfg.apis[0].methods.length).toBe(2);
    expect(cfg.plans[0].limits.length).toBe(2);
    expect(cfg.plans[0].limits[0].per).toBe(PER_MINUTE);
    expect(cfg.plans[0].limits[1].per).toBe(PER_DAY);
    expect(cfg.plans[0].limits[1].requests).toBe(10000);
    expect(cfg.plans[0].allowsApi(0)).toBe(true);
    expect(cfg.keys.count).toBe(1);
    expect(cfg.keys.expiresAt[0]).toBe(1798761600.0);
    expect(cfg.hideCredentials).toBe(true);
    expect(cfg.denyUnmatched).toBe(false);
    expect(cfg.rateLimitHeaders).toBe(true);
    expect(cfg.locations.length).toBe(2); // x-api-key header, then api_key query
    expect(cfg.locations[1].isQuery).toBe(true);
    expect(cfg.usage).toBeNull();
  });
  it("accepts any key order and whitespace", () => {
    const c = decode(' { "version" : 1.0 , "keys":[], "plans" : [], "apis": [ ] } ');
    expect(c).not.toBeNull();
  });
  it("decodes keyLocations, identityHeaders and usage", () => {
    const c = decode('{"version":1,"apis":[],"plans":[],"keys":[],"keyLocations":[{"header":"authorization","prefix":"Bearer "},{"query":"k"}],' +
      '"identityHeaders":{"consumer":"","keyId":"x-kid","plan":"x-p"},"hideCredentials":false,"denyUnmatched":true,"rateLimitHeaders":false,' +
      '"usage":{"authority":"ctl","cluster":"outbound|7070||ctl","intervalMs":1e3,"path":"/v1/usage/reports","maxEntries":5,"token":"Bearer t","tokenHeader":"authorization"}}');
    expect(c).not.toBeNull();
    const cfg = c!;
    expect(cfg.locations.length).toBe(2);
    expect(cfg.locations[0].isQuery).toBe(false);
    expect(cfg.locations[1].isQuery).toBe(true);
    expect(cfg.consumerHeader.byteLength).toBe(0);
    expect(cfg.denyUnmatched).toBe(true);
    expect(cfg.usage!.intervalMs).toBe(1000);
    expect(cfg.usage!.maxEntries).toBe(5);
    expect(cfg.usage!.hasToken).toBe(true);
  });
  it("rejects empty and malformed input without trapping, naming the field", () => {
    expect(error("").includes("empty")).toBe(true, "empty");
    expect(error("{").includes("(root)")).toBe(true, "(root)");
    expect(error("[1,2]").includes("(root)")).toBe(true, "(root)");
    expect(error("nul").includes("(root)")).toBe(true, "(root)");
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[]} x').includes("trailing")).toBe(true, "trailing");
    expect(error('{"version":2,"apis":[],"plans":[],"keys":[]}').includes("version")).toBe(true, "version");
    expect(error('{"apis":[],"plans":[],"keys":[]}').includes("version: required")).toBe(true, "version: required");
    // keys is optional (the key feed carries them): a configuration without it is accepted with no static keys.
    expect(decode('{"version":1,"apis":[],"plans":[]}')!.keys.count).toBe(0);
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[],"hideCredential":true}').includes("hideCredential: unknown field")).toBe(true, "hideCredential: unknown field");
    expect(error('{"version":1,"apis":[{"id":"a","pathPrefix":"x"}],"plans":[],"keys":[]}').includes("apis[0].pathPrefix")).toBe(true, "apis[0].pathPrefix");
    expect(error('{"version":1,"apis":[{"id":"a b","pathPrefix":"/"}],"plans":[],"keys":[]}').includes("apis[0].id")).toBe(true, "apis[0].id");
    expect(error('{"version":1,"apis":[{"id":"a","pathPrefix":"/"},{"id":"a","pathPrefix":"/b"}],"plans":[],"keys":[]}').includes("apis[1].id: duplicate")).toBe(true, "apis[1].id: duplicate");
    expect(error('{"version":1,"apis":[{"id":"a","pathPrefix":"/","hosts":["Shop.com"]}],"plans":[],"keys":[]}').includes("apis[0].hosts[0]")).toBe(true, "apis[0].hosts[0]");
    expect(error('{"version":1,"apis":[{"id":"a","pathPrefix":"/","methods":["get"]}],"plans":[],"keys":[]}').includes("apis[0].methods[0]")).toBe(true, "apis[0].methods[0]");
    expect(error('{"version":1,"apis":[],"plans":[{"id":"p","limits":[{"per":"week","requests":1}],"apiIds":[]}],"keys":[]}').includes("plans[0].limits[0].per")).toBe(true, "plans[0].limits[0].per");
    expect(error('{"version":1,"apis":[],"plans":[{"id":"p","limits":[{"per":"day","requests":0}],"apiIds":[]}],"keys":[]}').includes("plans[0].limits[0].requests")).toBe(true, "plans[0].limits[0].requests");
    expect(error('{"version":1,"apis":[],"plans":[{"id":"p","limits":[{"per":"day","requests":1.5}],"apiIds":[]}],"keys":[]}').includes("plans[0].limits[0].requests")).toBe(true, "plans[0].limits[0].requests");
    expect(error('{"version":1,"apis":[],"plans":[{"id":"p","limits":[],"apiIds":["nope"]}],"keys":[]}').includes("plans[0].apiIds[0]: unknown API id")).toBe(true, "plans[0].apiIds[0]: unknown API id");
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[["short","k","c",0]]}').includes("keys[0][0]")).toBe(true, "keys[0][0]");
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[["n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg","k","c",0]]}').includes("keys[0][3]: plan index out of range")).toBe(true, "keys[0][3]: plan index out of range");
    expect(error('{"version":1,"apis":[],"plans":[{"id":"p","limits":[],"apiIds":[]}],"keys":[["n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg","k","c"]]}').includes("keys[0]")).toBe(true, "keys[0]");
    expect(error('{"version":1,"apis":[],"plans":[{"id":"p","limits":[],"apiIds":[]}],"keys":[["n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg","k","c","0"]]}').includes("keys[0][3]")).toBe(true, "keys[0][3]");
    expect(error('{"version":1,"apis":[],"plans":[{"id":"p","limits":[],"apiIds":[]}],"keys":[["n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg","k","c",0],["n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg","k2","c",0]]}').includes("keys[1][0]: duplicate digest")).toBe(true, "keys[1][0]: duplicate digest");
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[],"keyLocations":[]}').includes("keyLocations")).toBe(true, "keyLocations");
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[],"keyLocations":[{"header":"a","query":"b"}]}').includes("keyLocations[0]")).toBe(true, "keyLocations[0]");
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[],"usage":{"cluster":"c","authority":"a","path":"/p","intervalMs":50}}').includes("usage.intervalMs")).toBe(true, "usage.intervalMs");
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[],"usage":{"cluster":"c","authority":"a","path":"/p"}}').includes("usage.intervalMs: required")).toBe(true, "usage.intervalMs: required");
    expect(error('{"version":1,"apis":"x","plans":[],"keys":[]}').includes("apis")).toBe(true, "apis");
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[],"denyUnmatched":"yes"}').includes("denyUnmatched")).toBe(true, "denyUnmatched");
    expect(error('{"version":1,"apis":[],"plans":[],"keys":[],"identityHeaders":{"consumer":"X-Bad"}}').includes("identityHeaders.consumer")).toBe(true, "identityHeaders.consumer");
    expect(error('{"version":1,"apis":[{"id":"a\\ud800","pathPrefix":"/"}],"plans":[],"keys":[]}').includes("apis[0].id")).toBe(true, "apis[0].id");
  });
  it("never traps on every prefix of a valid configuration", () => {
    for (let i = 0; i < EXAMPLE.length; i++) {
      expect(decode(EXAMPLE.substring(0, i))).toBeNull();
    }
  });
  it("never traps on byte-level mutations", () => {
    let seed: u32 = 12345;
    for (let i = 0; i < 3000; i++) {
      seed = seed * 1103515245 + 12345;
      const pos = <i32>((seed >>> 8) % <u32>EXAMPLE.length);
      seed = seed * 1103515245 + 12345;
      const ch = String.fromCharCode(<i32>((seed >>> 16) & 0x7f));
      decode(EXAMPLE.substring(0, pos) + ch + EXAMPLE.substring(pos + 1));
    }
    expect(true).toBe(true);
  });
  it("never traps on binary mutations (any byte, invalid UTF-8 included) and names the field in the error", () => {
    const src = String.UTF8.encode(EXAMPLE);
    const n = src.byteLength;
    const buf = new ArrayBuffer(n);
    let seed: u32 = 777;
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      memory.copy(changetype<usize>(buf), changetype<usize>(src), <usize>n);
      for (let k = 0; k < 3; k++) {
        seed = seed * 1103515245 + 12345;
        const pos = <usize>((seed >>> 8) % <u32>n);
        seed = seed * 1103515245 + 12345;
        store<u8>(changetype<usize>(buf) + pos, <u8>(seed >>> 16));
      }
      const r = decodeConfig(changetype<usize>(buf), <usize>n);
      if (r.config == null) {
        rejected++;
        expect(r.error.length).toBeGreaterThan(0);
      }
    }
    expect(rejected).toBeGreaterThan(1000);
    // Invalid UTF-8 in an unknown member name reaches the error message without a trap.
    const bad = String.UTF8.encode('{"version":1,"Zx":1}');
    store<u8>(changetype<usize>(bad) + 14, 0xff); // the Z
    const e = decodeConfig(changetype<usize>(bad), <usize>bad.byteLength).error;
    expect(e.includes("unknown field")).toBe(true, e);
  });
  it("frees its string buffer: decoding many configurations with long strings does not grow memory", () => {
    let long = "";
    for (let i = 0; i < 100000; i++) long += "a";
    const bad = String.UTF8.encode('{"version":1,"apis":[{"id":"' + long + '","pathPrefix":"/"}],"plans":[],"keys":[]}');
    decodeConfig(changetype<usize>(bad), <usize>bad.byteLength);
    const before = memory.size();
    for (let i = 0; i < 200; i++) {
      expect(decodeConfig(changetype<usize>(bad), <usize>bad.byteLength).error.includes("apis[0].id")).toBe(true);
    }
    // A leaked 200 KB buffer per decode would be ~40 MB (> 600 pages).
    expect(memory.size() - before).toBeLessThan(16);
  });
});
