import { parseReply } from "../../assembly/usage/reply";
import { PER_DAY, PER_MINUTE } from "../../assembly/window";

let delivered = 0;
let lastKey = "";
let lastPer = -1;
let lastStart: f64 = 0;
let lastOthers: u32 = 0;

function sink(keyId: usize, keyIdLen: usize, per: i32, windowStart: f64, others: u32): void {
  delivered++;
  lastKey = String.UTF8.decodeUnsafe(keyId, keyIdLen);
  lastPer = per;
  lastStart = windowStart;
  lastOthers = others;
}

function parse(json: string): i32 {
  const b = String.UTF8.encode(json);
  return parseReply(changetype<usize>(b), <usize>b.byteLength, sink);
}

describe("usage reply parsing", () => {
  it("delivers valid fleet entries", () => {
    delivered = 0;
    const n = parse('{"version":1,"batchId":"5f0c6d1e9a7b4c2d8e3f1a0b9c8d7e6f","duplicate":false,"fleet":[' +
      '{"keyId":"key_a","per":"day","windowStart":1.7672256e9,"others":5120},' +
      '{"others":7,"windowStart":1767225600,"per":"minute","keyId":"key_b"}]}');
    expect(n).toBe(2);
    expect(delivered).toBe(2);
    expect(lastKey).toBe("key_b");
    expect(lastPer).toBe(PER_MINUTE);
    expect(lastStart).toBe(1767225600.0);
    expect(lastOthers).toBe(7);
  });
  it("skips invalid entries and unknown fields", () => {
    delivered = 0;
    const n = parse('{"extra":{"a":[1,2,{"b":null}]},"fleet":[{"keyId":"bad id","per":"day","windowStart":0,"others":1},' +
      '{"keyId":"k","per":"second","windowStart":0,"others":1},{"keyId":"k","per":"day","windowStart":-5,"others":1},' +
      '{"keyId":"k","per":"day","windowStart":0,"others":1.5},{"keyId":"k","per":"day","windowStart":0,"others":1e12}]}');
    expect(n).toBe(1);
    expect(lastPer).toBe(PER_DAY);
    expect(lastOthers).toBe(u32.MAX_VALUE);
  });
  it("reports malformed replies without trapping", () => {
    const bad: string[] = ["", "x", "{", "[]", '{"fleet":', '{"fleet":[', '{"fleet":[{"keyId":"k"', '{"fleet":[1]}', '{"a":tru}',
      '{"fleet":[{"keyId":"k","per":"day","windowStart":0,"others":1}', "\u0000\u00ff"];
    for (let i = 0; i < bad.length; i++) expect(parse(bad[i])).toBe(-1, bad[i]);
    expect(parse('{"fleet":[{"keyId":true}]}')).toBe(0); // well-formed, just not a valid entry
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
