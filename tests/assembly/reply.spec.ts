import { lastReply, parseReply } from "../../assembly/usage/reply";
import { PER_DAY, PER_MINUTE } from "../../assembly/window";

let delivered = 0;
let lastSub = "";
let lastPer = -1;
let lastStart: f64 = 0;
let lastOthers: u32 = 0;
let storeOk = true;
let lastScope = "";

function sink(sub: usize, subLen: usize, per: i32, windowStart: f64, others: u32, scope: usize = 0, scopeLen: usize = 0): bool {
  delivered++;
  lastSub = String.UTF8.decodeUnsafe(sub, subLen);
  lastPer = per;
  lastStart = windowStart;
  lastOthers = others;
  lastScope = String.UTF8.decodeUnsafe(scope, scopeLen);
  return storeOk;
}

function parse(json: string): i32 {
  const b = String.UTF8.encode(json);
  return parseReply(changetype<usize>(b), <usize>b.byteLength, sink);
}

describe("usage reply parsing (version 2: fleet per subscription)", () => {
  it("delivers valid fleet entries with their subscription and reads the version", () => {
    delivered = 0;
    storeOk = true;
    const n = parse('{"version":2,"batchId":"5f0c6d1e9a7b4c2d8e3f1a0b9c8d7e6f","duplicate":false,"fleet":[' +
      '{"subscription":"pln_gold/con_acme","per":"day","windowStart":1.7672256e9,"others":5120},' +
      '{"others":7,"windowStart":1767225600,"per":"minute","subscription":"pln_silver/con_b.2:x-y"}]}');
    expect(n).toBe(2);
    expect(delivered).toBe(2);
    expect(lastSub).toBe("pln_silver/con_b.2:x-y");
    expect(lastPer).toBe(PER_MINUTE);
    expect(lastStart).toBe(1767225600.0);
    expect(lastOthers).toBe(7);
    expect(lastReply.version).toBe(2);
    expect(lastReply.wellFormed).toBe(true);
    expect(lastReply.unstored).toBe(0);
  });
  it("ignores per-key (version 1) entries and subscriptions that are not <planId>/<consumerId>", () => {
    delivered = 0;
    storeOk = true;
    const n = parse('{"version":1,"fleet":[{"keyId":"key_a","per":"day","windowStart":0,"others":1},' +
      '{"subscription":"pln_gold","per":"day","windowStart":0,"others":1},' +
      '{"subscription":"pln_gold/con/acme","per":"day","windowStart":0,"others":1},' +
      '{"subscription":"pln gold/con_acme","per":"day","windowStart":0,"others":1},' +
      '{"subscription":"/con_acme","per":"day","windowStart":0,"others":1},' +
      '{"subscription":"pln_gold/","per":"day","windowStart":0,"others":1},' +
      '{"subscription":"' + "p".repeat(65) + '/c","per":"day","windowStart":0,"others":1},' +
      '{"subscription":7,"per":"day","windowStart":0,"others":1}]}');
    expect(n).toBe(0);
    expect(delivered).toBe(0);
    expect(lastReply.version).toBe(1);
  });
  it("skips invalid entries and unknown fields", () => {
    delivered = 0;
    storeOk = true;
    const n = parse('{"extra":{"a":[1,2,{"b":null}]},"version":"2","fleet":[{"subscription":"p/c","per":"second","windowStart":0,"others":1},' +
      '{"subscription":"p/c","per":"day","windowStart":-5,"others":1},' +
      '{"subscription":"p/c","per":"day","windowStart":0,"others":1.5},{"subscription":"p/c","per":"day","windowStart":0,"others":1e12}]}');
    expect(n).toBe(1);
    expect(lastPer).toBe(PER_DAY);
    expect(lastOthers).toBe(u32.MAX_VALUE);
    expect(lastReply.version).toBe(0); // a string version is no version
  });
  it("counts entries the sink could not store", () => {
    storeOk = false;
    expect(parse('{"version":2,"fleet":[{"subscription":"p/c","per":"day","windowStart":0,"others":1}]}')).toBe(1);
    expect(lastReply.unstored).toBe(1);
    storeOk = true;
  });
  it("reports malformed replies without trapping", () => {
    const bad: string[] = ["", "x", "{", "[]", '{"fleet":', '{"fleet":[', '{"fleet":[{"subscription":"p/c"', '{"fleet":[1]}', '{"a":tru}',
      '{"fleet":[{"subscription":"p/c","per":"day","windowStart":0,"others":1}', "\u0000\u00ff", '{"version":-}'];
    for (let i = 0; i < bad.length; i++) {
      expect(parse(bad[i])).toBe(-1, bad[i]);
      expect(lastReply.wellFormed).toBe(false, bad[i]);
    }
    expect(parse('{"fleet":[{"subscription":true}]}')).toBe(0); // well-formed, just not a valid entry
    let deep = "";
    for (let i = 0; i < 10000; i++) deep += "[";
    expect(parse('{"x":' + deep)).toBe(-1);
  });
  it("frees its string buffer: parsing many replies with long strings does not grow memory", () => {
    let pad = "";
    for (let i = 0; i < 100000; i++) pad += "a";
    const reply = String.UTF8.encode('{"pad":"' + pad + '","fleet":[]}');
    const truncated = String.UTF8.encode('{"pad":"' + pad);
    parseReply(changetype<usize>(reply), <usize>reply.byteLength, sink); // warm-up: the first buffer may stay cached
    const before = memory.size();
    for (let i = 0; i < 200; i++) {
      expect(parseReply(changetype<usize>(reply), <usize>reply.byteLength, sink)).toBe(0);
      expect(parseReply(changetype<usize>(truncated), <usize>truncated.byteLength, sink)).toBe(-1);
    }
    // A leaked 200 KB buffer per parse would be ~80 MB (> 1,200 pages).
    expect(memory.size() - before).toBeLessThan(16);
  });
});

describe("fleet windows with a scope (limits that compose)", () => {
  it("delivers the scope of API- and operation-scoped windows; absent = the whole subscription", () => {
    delivered = 0;
    storeOk = true;
    expect(parse('{"version":2,"fleet":[{"subscription":"p/c","per":"minute","windowStart":60,"others":3,"scope":"api_a"}]}')).toBe(1);
    expect(lastScope).toBe("api_a");
    expect(parse('{"version":2,"fleet":[{"scope":"api_a/op_x","subscription":"p/c","per":"hour","windowStart":3600,"others":4}]}')).toBe(1);
    expect(lastScope).toBe("api_a/op_x");
    expect(parse('{"version":2,"fleet":[{"subscription":"p/c","per":"hour","windowStart":3600,"others":4}]}')).toBe(1);
    expect(lastScope).toBe("");
  });
  it("ignores an entry whose scope is not \"<apiId>\" or \"<apiId>/<operationId>\" (never taken for the whole subscription)", () => {
    delivered = 0;
    const bad = ['"a b"', '""', '"a/b/c"', '"/x"', '"x/"', '7', 'null', '{}', '"' + "a".repeat(65) + '"'];
    for (let i = 0; i < bad.length; i++) {
      expect(parse('{"version":2,"fleet":[{"subscription":"p/c","per":"minute","windowStart":60,"others":3,"scope":' + bad[i] + '}]}')).toBe(0);
    }
    expect(delivered).toBe(0);
    expect(lastReply.wellFormed).toBe(true);
  });
});
