// Finding the key in its locations, hiding it from the forwarded request, and wiping the request's copies of it
// (assembly/http/credentials.ts); forged identity headers (assembly/http/identity.ts). No host: header blocks are
// built with the pairs writer and scanned as the request path does.
import { PairTable, PairWriter } from "../../assembly/abi/pairs";
import { decodeConfig } from "../../assembly/config/decode";
import { Config } from "../../assembly/config/model";
import {
  begin, CRED_FOUND, CRED_INVALID, CRED_NONE, findCredential, forget, hideCredentials, keyLen, keyPtr, noteHeader,
} from "../../assembly/http/credentials";
import { begin as beginIdentity, forgedCount, noteHeader as noteIdentity } from "../../assembly/http/identity";
import { ByteSink } from "../../assembly/sink";

const keep: ArrayBuffer[] = [];
const table = new PairTable();
const out = new PairTable();
const writer = new PairWriter();
const newPath = new ByteSink();
let block: usize = 0;
let pathIdx = -1;

function config(extra: string): Config {
  const b = String.UTF8.encode('{"version":1,"apis":[],"plans":[],"keys":[]' + extra + '}');
  return decodeConfig(changetype<usize>(b), <usize>b.byteLength).config!;
}

/** Decodes headers [k0, v0, k1, v1, …] into `table` (a copy, as the host's block would be) and scans them. */
function request(cfg: Config, kv: string[]): void {
  writer.reset();
  for (let i = 0; i < kv.length; i += 2) {
    const k = String.UTF8.encode(kv[i]), v = String.UTF8.encode(kv[i + 1]);
    keep.push(k); keep.push(v);
    writer.add(changetype<usize>(k), <usize>k.byteLength, changetype<usize>(v), <usize>v.byteLength);
  }
  writer.finish();
  block = heap.alloc(writer.len);
  memory.copy(block, writer.ptr, writer.len);
  expect(table.decode(block, writer.len)).toBe(true);
  begin();
  beginIdentity();
  pathIdx = -1;
  for (let i = 0; i < table.count; i++) {
    noteHeader(cfg, i, table.keyPtr(i), table.keyLen(i));
    noteIdentity(cfg, table, i, table.keyPtr(i), table.keyLen(i));
    if (String.UTF8.decodeUnsafe(table.keyPtr(i), table.keyLen(i)) == ":path") pathIdx = i;
  }
}

function find(cfg: Config): i32 {
  const p = pathIdx >= 0 ? table.valuePtr(pathIdx) : 0;
  const n = pathIdx >= 0 ? table.valueLen(pathIdx) : 0;
  return findCredential(cfg, table, p, n);
}

function key(): string {
  return String.UTF8.decodeUnsafe(keyPtr, keyLen);
}

/** The forwarded headers after hiding (and nothing staged), as "k=v;" pairs. */
function forwarded(cfg: Config): string {
  hideCredentials(cfg, table, pathIdx, newPath);
  writer.reset();
  writer.finishFrom(table);
  expect(out.decode(writer.ptr, writer.len)).toBe(true);
  let s = "";
  for (let i = 0; i < out.count; i++) {
    s += String.UTF8.decodeUnsafe(out.keyPtr(i), out.keyLen(i)) + "=" + String.UTF8.decodeUnsafe(out.valuePtr(i), out.valueLen(i)) + ";";
  }
  return s;
}

const DEFAULT = config("");
const BEARER = config(',"keyLocations":[{"header":"authorization","prefix":"Bearer "},{"query":"k"}]');
const SHOWN = config(',"hideCredentials":false');

describe("finding the key", () => {
  it("the first key location holding a non-empty key wins: header x-api-key, then query api_key", () => {
    request(DEFAULT, [":path", "/o?api_key=fromquery", "x-api-key", "fromheader"]);
    expect(find(DEFAULT)).toBe(CRED_FOUND);
    expect(key()).toBe("fromheader");
    request(DEFAULT, [":path", "/o?api_key=fromquery", "x-api-key", ""]);
    expect(find(DEFAULT)).toBe(CRED_FOUND);
    expect(key()).toBe("fromquery");
    request(DEFAULT, [":path", "/o?x=1"]);
    expect(find(DEFAULT)).toBe(CRED_NONE);
  });
  it("only the first header of a location's name counts", () => {
    request(DEFAULT, [":path", "/o", "x-api-key", "", "x-api-key", "second"]);
    expect(find(DEFAULT)).toBe(CRED_NONE);
  });
  it("a header prefix is matched case-insensitively and taken off; without it the location has no key", () => {
    request(BEARER, [":path", "/o", "authorization", "bEARER abc"]);
    expect(find(BEARER)).toBe(CRED_FOUND);
    expect(key()).toBe("abc");
    request(BEARER, [":path", "/o?k=q", "authorization", "Basic abc"]);
    expect(find(BEARER)).toBe(CRED_FOUND);
    expect(key()).toBe("q");
  });
  it("a query key is percent-decoded (name too); bad escapes or over 256 bytes cannot be a key", () => {
    request(DEFAULT, [":path", "/o?a=1&api%5Fkey=a%2Bb+c"]);
    expect(find(DEFAULT)).toBe(CRED_FOUND);
    expect(key()).toBe("a+b c");
    request(DEFAULT, [":path", "/o?api_key=%zz"]);
    expect(find(DEFAULT)).toBe(CRED_INVALID);
    request(DEFAULT, [":path", "/o", "x-api-key", "k".repeat(257)]);
    expect(find(DEFAULT)).toBe(CRED_INVALID);
    request(DEFAULT, [":path", "/o", "x-api-key", "k".repeat(256)]);
    expect(find(DEFAULT)).toBe(CRED_FOUND);
  });
});

describe("hiding the key", () => {
  it("every header of a key location and every key query parameter leave the forwarded request", () => {
    request(DEFAULT, [":path", "/o?a=1&api_key=q&b=2&api%5Fkey=r", "x-api-key", "k1", "accept", "*/*", "x-api-key", "k2"]);
    expect(forwarded(DEFAULT)).toBe(":path=/o?a=1&b=2;accept=*/*;");
  });
  it("a header location with a prefix hides only values carrying it", () => {
    request(BEARER, [":path", "/o", "authorization", "Bearer abc", "authorization", "Basic zzz"]);
    expect(forwarded(BEARER)).toBe(":path=/o;authorization=Basic zzz;");
  });
  it("a path without key parameters is forwarded as sent", () => {
    request(DEFAULT, [":path", "/o?expand=items&api_keyx=1", "x-api-key", "k"]);
    expect(forwarded(DEFAULT)).toBe(":path=/o?expand=items&api_keyx=1;");
  });
  it("with hideCredentials off nothing is hidden", () => {
    request(SHOWN, [":path", "/o?api_key=q", "x-api-key", "k"]);
    expect(forwarded(SHOWN)).toBe(":path=/o?api_key=q;x-api-key=k;");
  });
});

describe("no copy of the key outlives the request", () => {
  it("forget() wipes the key where the host wrote it", () => {
    request(DEFAULT, [":path", "/o", "x-api-key", "secret-key-1"]);
    expect(find(DEFAULT)).toBe(CRED_FOUND);
    const p = keyPtr, n = keyLen;
    forget();
    for (let i: usize = 0; i < n; i++) expect(load<u8>(p + i)).toBe(0);
    expect(keyLen).toBe(0);
  });
  it("forget() wipes a decoded query key and the raw query value", () => {
    request(DEFAULT, [":path", "/o?api_key=sec%72et"]);
    expect(find(DEFAULT)).toBe(CRED_FOUND);
    expect(key()).toBe("secret");
    const decoded = keyPtr;
    const raw = table.valuePtr(pathIdx) + 11;
    forget();
    for (let i: usize = 0; i < 6; i++) expect(load<u8>(decoded + i)).toBe(0);
    for (let i: usize = 0; i < 8; i++) expect(load<u8>(raw + i)).toBe(0);
  });
});

describe("forged identity headers", () => {
  it("are left out of the forwarded request, also spelled with '_'", () => {
    request(DEFAULT, [":path", "/o", "x-tollgate-consumer", "root", "x_tollgate_key_id", "k", "x-tollgate-planx", "p", "accept", "a"]);
    expect(forgedCount()).toBe(2);
    expect(forwarded(SHOWN)).toBe(":path=/o;x-tollgate-planx=p;accept=a;");
  });
});
