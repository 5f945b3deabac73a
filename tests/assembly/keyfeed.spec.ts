// The key feed's pure parts (assembly/keyfeed/): keyFeed configuration decoding, the bucket and entry layout, the
// set digest (equal to contracts/key-feed.ts's entryHash for the same key), and page parsing — where no input traps.
import { decode, error } from "./decode-config";
import {
  bitsFor, bucketKey, bucketOf, encodeDigest43, entryConsumer, entryConsumerLen, entryExpires, entryKeyId,
  entryKeyIdLen, entryPlan, entryPlanLen, entrySize, findEntry, writeEntry, xorEntryHash,
} from "../../assembly/keyfeed/layout";
import { decodeHex16, KIND_DELTA, KIND_SNAPSHOT, page, parsePage } from "../../assembly/keyfeed/page";
import { decodeDigest43 } from "../../assembly/base64url";


const USAGE = '"usage":{"cluster":"c","authority":"a","path":"/u","intervalMs":1000}';
const FEED = '"snapshotPath":"/v1/keyfeed/snapshot","deltasPath":"/v1/keyfeed/deltas","waitS":25,"pageKeys":2000,"retryMs":2000';

function withFeed(feed: string, usage: bool = true): string {
  return '{"version":1,"apis":[],"plans":[]' + (usage ? "," + USAGE : "") + ',"keyFeed":{' + feed + "}}";
}

// SHA-256("key-1") base64url, and entryHash(["<that>","key_1","con_1","pln_gold",0]) from contracts/key-feed.ts
// (node -e: createHash('sha256').update(entryLine(k)).digest().subarray(0, 8).toString('hex')).
const D1 = "vil0VGl443OebW2oXEvp8zTOMt8rn9S2_xtVwNV-nUQ";
const H1 = "961f456a3404c4b7";

function hex8(p: usize): string {
  let s = "";
  for (let i: usize = 0; i < 8; i++) {
    const b = load<u8>(p + i);
    s += (b < 16 ? "0" : "") + (<u32>b).toString(16);
  }
  return s;
}

function noFleet(_s: usize, _n: usize, _per: i32, _w: f64, _o: u32, _sc: usize, _sl: usize): bool { return true; }

function parse(json: string, kind: i32): bool {
  const b = String.UTF8.encode(json);
  return parsePage(changetype<usize>(b), <usize>b.byteLength, kind, noFleet);
}

describe("keyFeed configuration", () => {
  it("decodes every field; whenNoKeys defaults to deny", () => {
    const c = decode(withFeed(FEED));
    expect(c).not.toBeNull();
    const k = c!.keyFeed!;
    expect(k.waitS).toBe(25);
    expect(k.pageKeys).toBe(2000);
    expect(k.retryMs).toBe(2000);
    expect(k.allowWithoutSet).toBe(false);
    expect(decode(withFeed(FEED + ',"whenNoKeys":"allow"'))!.keyFeed!.allowWithoutSet).toBe(true);
    expect(decode(withFeed(FEED + ',"whenNoKeys":"deny"'))!.keyFeed!.allowWithoutSet).toBe(false);
  });
  it("rejects unknown fields, bad values, missing fields, and keyFeed without usage", () => {
    expect(error(withFeed(FEED + ',"extra":1')).includes("keyFeed.extra: unknown field")).toBe(true);
    expect(error(withFeed(FEED + ',"whenNoKeys":"maybe"')).includes("keyFeed.whenNoKeys")).toBe(true);
    expect(error(withFeed(FEED.replace('"waitS":25', '"waitS":31'))).includes("keyFeed.waitS")).toBe(true);
    expect(error(withFeed(FEED.replace('"pageKeys":2000', '"pageKeys":0'))).includes("keyFeed.pageKeys")).toBe(true);
    expect(error(withFeed(FEED.replace('"pageKeys":2000', '"pageKeys":10001'))).includes("keyFeed.pageKeys")).toBe(true);
    expect(error(withFeed(FEED.replace('"retryMs":2000', '"retryMs":99'))).includes("keyFeed.retryMs")).toBe(true);
    expect(error(withFeed(FEED.replace('"/v1/keyfeed/deltas"', '"v1"'))).includes("keyFeed.deltasPath")).toBe(true);
    expect(error(withFeed(FEED.replace(',"retryMs":2000', ""))).includes("keyFeed.retryMs: required")).toBe(true);
    expect(error(withFeed(FEED, false)).includes("keyFeed: requires usage")).toBe(true);
    expect(error('{"version":1,"apis":[],"plans":[],' + USAGE + ',"keyFeed":[]}').includes("keyFeed")).toBe(true);
  });
});

describe("bucket layout", () => {
  it("buckets by the digest's first bits; keys are short and distinct per slot", () => {
    const d = memory.data(32);
    store<u8>(d, 0xff); store<u8>(d, 0x00, 1); store<u8>(d, 0x80, 2);
    expect(bucketOf(d, 0)).toBe(0);
    expect(bucketOf(d, 1)).toBe(1);
    expect(bucketOf(d, 8)).toBe(0xff);
    expect(bucketOf(d, 17)).toBe(0x1fe01);
    const k = memory.data(16);
    expect(bucketKey(k, 2, 0x1fe01)).toBe(12);
    expect(String.UTF8.decodeUnsafe(k, 12)).toBe("tg:kf:a1fe01");
    expect(bucketKey(k, 3, 0)).toBe(8);
    expect(String.UTF8.decodeUnsafe(k, 8)).toBe("tg:kf:b0");
  });
  it("chooses about 8 keys per bucket", () => {
    expect(bitsFor(0)).toBe(0);
    expect(bitsFor(8)).toBe(0);
    expect(bitsFor(9)).toBe(1);
    expect(bitsFor(1000)).toBe(7);
    expect(bitsFor(1000000)).toBe(17);
  });
  it("writes, finds and reads entries; a truncated value finds nothing and does not trap", () => {
    const v = memory.data(512);
    store<u32>(v, 7);
    const d1 = memory.data(32), d2 = memory.data(32);
    decodeDigest43(changetype<usize>(String.UTF8.encode(D1)), d1);
    memory.fill(d2, 0xab, 32);
    const a = String.UTF8.encode("key_1"), c = String.UTF8.encode("con_1"), p = String.UTF8.encode("pln_gold");
    let n: usize = 4;
    n += writeEntry(v + n, d2, 5, changetype<usize>(a), 5, changetype<usize>(c), 5, changetype<usize>(p), 8);
    const at = n;
    n += writeEntry(v + n, d1, 1798761600, changetype<usize>(a), 5, changetype<usize>(c), 5, changetype<usize>(p), 8);
    expect(entrySize(v + 4, n - 4)).toBe(39 + 18);
    expect(findEntry(v, n, d1)).toBe(<i32>at);
    const e = v + at;
    expect(entryExpires(e)).toBe(1798761600);
    expect(String.UTF8.decodeUnsafe(entryKeyId(e), entryKeyIdLen(e))).toBe("key_1");
    expect(String.UTF8.decodeUnsafe(entryConsumer(e), entryConsumerLen(e))).toBe("con_1");
    expect(String.UTF8.decodeUnsafe(entryPlan(e), entryPlanLen(e))).toBe("pln_gold");
    for (let cut: usize = 0; cut < n; cut++) {
      const f = findEntry(v, cut, d1);
      expect(f == -1 || <usize>f + 57 <= cut).toBe(true);
    }
    store<u8>(v + 4 + 36, 250); // a corrupt length: the scan stops
    expect(findEntry(v, n, d1)).toBe(-1);
  });
});

describe("set digest", () => {
  it("an entry's contribution is the contract's entryHash; XOR twice is the empty set", () => {
    const e = memory.data(128);
    const d = memory.data(32);
    decodeDigest43(changetype<usize>(String.UTF8.encode(D1)), d);
    const a = String.UTF8.encode("key_1"), c = String.UTF8.encode("con_1"), p = String.UTF8.encode("pln_gold");
    writeEntry(e, d, 0, changetype<usize>(a), 5, changetype<usize>(c), 5, changetype<usize>(p), 8);
    const enc = memory.data(43);
    encodeDigest43(d, enc);
    expect(String.UTF8.decodeUnsafe(enc, 43)).toBe(D1);
    const acc = memory.data(8);
    store<u64>(acc, 0);
    xorEntryHash(e, acc);
    expect(hex8(acc)).toBe(H1);
    xorEntryHash(e, acc);
    expect(load<u64>(acc)).toBe(0);
    const h = memory.data(8);
    expect(decodeHex16(changetype<usize>(String.UTF8.encode(H1)), 16, h)).toBe(true);
    expect(hex8(h)).toBe(H1);
    expect(decodeHex16(changetype<usize>(String.UTF8.encode("961F456A3404C4B7")), 16, h)).toBe(false);
  });
});

const SNAP = '{"version":1,"kind":"snapshot","epoch":"ep","revision":7,"keys":[["' + D1 + '","key_1","con_1","pln_gold",0]],' +
  '"next":null,"digest":"' + H1 + '","fleet":[]}';

describe("page parsing", () => {
  it("reads a snapshot page and a delta page (any member order, unknown members skipped)", () => {
    expect(parse(SNAP, KIND_SNAPSHOT)).toBe(true);
    expect(page.count).toBe(1);
    expect(page.revision).toBe(7);
    expect(page.hasNext).toBe(false);
    expect(page.hasDigest).toBe(true);
    expect(page.hasFleet).toBe(true);
    expect(page.records.len).toBe(1 + 39 + 18);
    const delta = '{"changes":[{"key":["' + D1 + '","key_1","con_1","pln_gold",5],"op":"revoke","x":{}},' +
      '{"op":"add","key":["' + D1 + '","key_1","con_1","pln_gold",6]}],"more":true,"since":3,"revision":9,' +
      '"epoch":"ep","kind":"delta","version":1,"extra":[1,2]}';
    expect(parse(delta, KIND_DELTA)).toBe(true);
    expect(page.count).toBe(2);
    expect(page.more).toBe(true);
    expect(page.since).toBe(3);
    expect(load<u8>(page.records.ptr)).toBe(0, "revoke (op after the key)");
    expect(load<u8>(page.records.ptr + 58)).toBe(1, "add");
    const cursor = SNAP.replace('"next":null', '"next":"abc"');
    expect(parse(cursor, KIND_SNAPSHOT)).toBe(true);
    expect(page.hasNext).toBe(true);
    expect(String.UTF8.decodeUnsafe(page.next, page.nextLen)).toBe("abc");
  });
  it("rejects what the contract does not allow", () => {
    expect(parse(SNAP, KIND_DELTA)).toBe(false, "wrong kind");
    expect(parse(SNAP.replace('"version":1', '"version":2'), KIND_SNAPSHOT)).toBe(false, "version");
    expect(parse(SNAP.replace(',"next":null', ""), KIND_SNAPSHOT)).toBe(false, "next missing");
    expect(parse(SNAP.replace('"pln_gold",0', '"pln_gold",-1'), KIND_SNAPSHOT)).toBe(false, "expiresAt");
    expect(parse(SNAP.replace('"pln_gold",0', '"pln_gold",4294967296'), KIND_SNAPSHOT)).toBe(false, "expiresAt > u32");
    expect(parse(SNAP.replace('"key_1"', '"key 1"'), KIND_SNAPSHOT)).toBe(false, "id");
    expect(parse(SNAP.replace(D1, "x"), KIND_SNAPSHOT)).toBe(false, "digest");
    expect(parse(SNAP.replace('"digest":"' + H1 + '"', '"digest":"zz"'), KIND_SNAPSHOT)).toBe(false, "set digest");
    expect(parse(SNAP + " x", KIND_SNAPSHOT)).toBe(false, "trailing");
    expect(parse(SNAP.replace('"epoch":"ep",', ""), KIND_SNAPSHOT)).toBe(false, "epoch");
  });
  it("never traps on a cut, garbage or hostile page", () => {
    const full = SNAP;
    for (let i = 0; i < full.length; i++) {
      expect(parse(full.substring(0, i), KIND_SNAPSHOT)).toBe(false);
    }
    let deep = "";
    for (let i = 0; i < 200; i++) deep += "[";
    expect(parse('{"version":1,"x":' + deep, KIND_SNAPSHOT)).toBe(false);
    expect(parse('{"keys":[[1,2,3,4,5]]}', KIND_SNAPSHOT)).toBe(false);
    expect(parse('{"keys":[["' + D1 + '","k","c","p",0,9]]}', KIND_SNAPSHOT)).toBe(false);
    expect(parse('{"changes":[{"op":"nuke","key":[]}]}', KIND_DELTA)).toBe(false);
    expect(parse("\u0000\uffff", KIND_DELTA)).toBe(false);
  });
});
