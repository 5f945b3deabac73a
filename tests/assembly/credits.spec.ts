// Credit balances' pure parts (assembly/quota/credit.ts, the credit block of quota/entry.ts, keyfeed/page.ts): the
// budget and its refill rollover, admission with the limits (spent + others + N ≤ budget), a new grant starting over,
// definitions picked by key-set generation across a snapshot, the fleet's spend applied only to its grant and from,
// and page parsing with each balance's digest line equal to contracts/key-feed.ts creditHash.
import {
  creditBudget, creditBudgetUnits, creditDef, creditFrom, creditInit, creditReset, CREDIT_RECORD, creditRecord,
  creditSetOthers, creditSpend, creditUsed, creditWindow, creditWrite, grantHash, replacedAny, replacedLine,
} from "../../assembly/quota/credit";
import {
  Decision, decide, ENTRY_BUFFER, ENTRY_SIZE, entryAddCredit, entryCredit, entryInit, entryResize, entryTotal, entryValid,
  setCreditGeneration,
} from "../../assembly/quota/entry";
import { Limit } from "../../assembly/config/model";
import { KIND_DELTA, KIND_SNAPSHOT, page, parsePage } from "../../assembly/keyfeed/page";
import { parseReply } from "../../assembly/usage/reply";
import { PER_DAY, PER_HOUR } from "../../assembly/window";

const T0: i64 = 1767225600; // 2026-01-01T00:00:00Z
const NO_KEYS = new StaticArray<u32>(0);

function g(s: string): u64 {
  const b = String.UTF8.encode(s);
  return grantHash(changetype<usize>(b), <usize>b.byteLength);
}

const REC = memory.data(64);

/** A definition record (page form) at REC. */
function rec(grant: string, balance: f64, refill: f64 = 0, per: i32 = -1, since: f64 = <f64>T0, line: u64 = 7, present: bool = true): usize {
  creditRecord(REC, present, g(grant), balance, refill, since, per, line);
  return REC;
}

/** An entry without scoped slots and with a credit block holding `grant` for generation `gen`. */
function entryWith(gen: u32, grant: string, balance: f64, refill: f64 = 0, per: i32 = -1, since: f64 = <f64>T0): usize {
  const p = heap.alloc(ENTRY_BUFFER);
  entryInit(p, 0);
  creditWrite(entryAddCredit(p), rec(grant, balance, refill, per, since), gen, gen, false);
  return p;
}

function limit(requests: u32, per: i32, id: string): Limit {
  const l = new Limit(requests, per);
  l.id = String.UTF8.encode(id);
  return l;
}

function idOf(l: Limit | null): string { return l == null ? "" : String.UTF8.decode(l.id); }

function hex8(v: u64): string {
  let s = "";
  for (let i = 0; i < 8; i++) {
    const b = <u32>((v >> (<u64>i * 8)) & 0xff);
    s += (b < 16 ? "0" : "") + b.toString(16);
  }
  return s;
}

function noFleet(_s: usize, _n: usize, _per: i32, _w: f64, _o: u32, _sc: usize, _sl: usize): bool { return true; }

function parse(json: string, kind: i32): bool {
  const b = String.UTF8.encode(json);
  return parsePage(changetype<usize>(b), <usize>b.byteLength, kind, noFleet);
}

/** The n-th credit record of the page: its subscription, and the record pointer. */
function pageRecord(n: i32): usize {
  let o: usize = 0;
  for (let i = 0; i < n; i++) o += 1 + <usize>load<u8>(page.credits.ptr + o) + CREDIT_RECORD;
  return page.credits.ptr + o;
}

describe("credit budget and refill", () => {
  it("a prepaid balance counts from since, never resets", () => {
    const p = entryWith(5, "g1", 10);
    const d = creditDef(entryCredit(p), 5);
    creditBudget(d, 0, 0, T0 + 86400 * 40);
    expect(creditFrom).toBe(<f64>T0);
    expect(creditBudgetUnits).toBe(10);
    expect(creditReset).toBe(0);
    expect(creditWindow).toBe(0);
  });

  it("refills at each boundary after since: the balance becomes refillAmount from the boundary on", () => {
    const since: f64 = <f64>(T0 + 600); // 00:10, a minute boundary
    const p = entryWith(5, "g1", 3, 8, PER_HOUR, since);
    const d = creditDef(entryCredit(p), 5);
    // 00:30: the hour started before since: the balance, from since; refill in 30 minutes.
    creditBudget(d, <f64>T0, T0 + 3600, T0 + 1800);
    expect(creditFrom).toBe(since);
    expect(creditBudgetUnits).toBe(3);
    expect(creditReset).toBe(1800);
    expect(creditWindow).toBe(3600);
    // 01:05: past the first boundary: the refill, from 01:00.
    creditBudget(d, <f64>(T0 + 3600), T0 + 7200, T0 + 3900);
    expect(creditFrom).toBe(<f64>(T0 + 3600));
    expect(creditBudgetUnits).toBe(8);
    expect(creditReset).toBe(3300);
  });

  it("a since on the boundary itself is not a refill", () => {
    const p = entryWith(5, "g1", 3, 8, PER_DAY, <f64>T0);
    creditBudget(creditDef(entryCredit(p), 5), <f64>T0, T0 + 86400, T0 + 10);
    expect(creditBudgetUnits).toBe(3);
    expect(creditFrom).toBe(<f64>T0);
  });
});

describe("admission with the limits", () => {
  it("admits while spent + N ≤ the balance, names credits when it is the tightest, denies with its id", () => {
    const p = entryWith(9, "g1", 5);
    setCreditGeneration(9);
    const limits: Limit[] = [limit(100, PER_HOUR, "hourly")];
    const d = new Decision();
    decide(p, limits, T0 + 5, d, 1, 2);
    expect(d.admitted).toBe(true);
    expect(idOf(d.which)).toBe("credits");
    expect(d.limit).toBe(5);
    expect(d.remaining).toBe(3);
    expect(d.reset).toBe(0); // never refills
    decide(p, limits, T0 + 5, d, 1, 3);
    expect(d.admitted).toBe(true);
    expect(d.remaining).toBe(0);
    decide(p, limits, T0 + 5, d, 1, 1);
    expect(d.admitted).toBe(false);
    expect(idOf(d.which)).toBe("credits");
    expect(d.reset).toBe(0);
    expect(d.window).toBe(0);
    // The hour limit counted only the admitted units.
    setCreditGeneration(0); // another generation: no balance applies
    decide(p, limits, T0 + 5, d, 1, 1);
    expect(d.admitted).toBe(true);
    expect(idOf(d.which)).toBe("hourly");
    expect(d.remaining).toBe(100 - 5 - 1);
  });

  it("a limit without room denies even with credits left, and spends nothing", () => {
    const p = entryWith(9, "g1", 50);
    setCreditGeneration(9);
    const limits: Limit[] = [limit(2, PER_HOUR, "hourly")];
    const d = new Decision();
    decide(p, limits, T0, d, 1, 2);
    decide(p, limits, T0, d, 1, 1);
    expect(d.admitted).toBe(false);
    expect(idOf(d.which)).toBe("hourly");
    expect(creditUsed(entryCredit(p), g("g1"), <f64>T0)).toBe(2);
  });

  it("under a shadow plan an exhausted balance admits and is reported as the shadow", () => {
    const p = entryWith(9, "g1", 1);
    setCreditGeneration(9);
    const d = new Decision();
    const none: Limit[] = [];
    decide(p, none, T0, d, 1, 1, -1, -1, null, true);
    expect(d.admitted).toBe(true);
    expect(d.shadow).toBeNull();
    decide(p, none, T0, d, 1, 1, -1, -1, null, true);
    expect(d.admitted).toBe(true);
    expect(idOf(d.shadow)).toBe("credits");
    expect(creditUsed(entryCredit(p), g("g1"), <f64>T0)).toBe(2);
  });

  it("a refill boundary and a new grant start counting over; others count only for their grant and from", () => {
    const p = entryWith(9, "g1", 2, 4, PER_HOUR);
    const c = entryCredit(p);
    setCreditGeneration(9);
    const none: Limit[] = [];
    const d = new Decision();
    decide(p, none, T0 + 60, d, 1, 2);
    decide(p, none, T0 + 60, d, 1, 1);
    expect(d.admitted).toBe(false);
    expect(d.reset).toBe(3540);
    expect(d.window).toBe(3600);
    // The fleet's spend: for the next hour, and a stale one for this hour and a replaced grant.
    expect(creditSetOthers(c, g("g1"), <f64>(T0 + 3600), 3)).toBe(true);
    expect(creditSetOthers(c, g("g1"), <f64>T0, 0)).toBe(false); // older than what is held
    expect(creditSetOthers(c, g("gone"), <f64>(T0 + 3600), 0)).toBe(false); // no such grant here
    decide(p, none, T0 + 3601, d, 1, 1);
    expect(d.admitted).toBe(true); // 3 others + 1 ≤ 4
    decide(p, none, T0 + 3602, d, 1, 1);
    expect(d.admitted).toBe(false);
    // A new grant (delta): counting from 0 for it, the old spend is not its.
    creditWrite(c, rec("g2", 1), 9, 9, false);
    decide(p, none, T0 + 3603, d, 1, 1);
    expect(d.admitted).toBe(true);
    expect(creditUsed(c, g("g2"), <f64>T0)).toBe(1);
  });
});

describe("definitions across a snapshot (generations)", () => {
  it("a snapshot writes the new generation beside the served one; the served one survives a second snapshot", () => {
    const p = entryWith(4, "g1", 10, 0, -1, <f64>T0);
    const c = entryCredit(p);
    creditSpend(c, g("g1"), <f64>T0, 6);
    // Snapshot into generation 6 while 4 is served: same grant, another balance.
    creditWrite(c, rec("g1", 7, 0, -1, <f64>T0, 11), 6, 4, true);
    expect(replacedAny).toBe(false);
    expect(load<f64>(creditDef(c, 4), 16)).toBe(10);
    expect(load<f64>(creditDef(c, 6), 16)).toBe(7);
    // Same grant: what was spent stays spent under the new generation.
    expect(creditUsed(c, g("g1"), <f64>T0)).toBe(6);
    // Generation 6 now served; a snapshot into 8 keeps 6's definition (moved to the other place) until the flip.
    creditWrite(c, rec("g3", 1), 8, 6, true);
    expect(load<f64>(creditDef(c, 6), 16)).toBe(7);
    expect(creditDef(c, 4)).toBe(0);
    expect(creditDef(c, 8)).not.toBe(0);
    // A balance absent from a snapshot: no definition under the new generation.
    expect(creditDef(c, 10)).toBe(0);
  });

  it("a delta after a flip rewrites the new generation's definition and keeps the previous one for a lagging VM", () => {
    const p = entryWith(4, "g1", 10);
    const c = entryCredit(p);
    creditWrite(c, rec("g1", 7), 6, 4, true); // snapshot into 6, then flipped
    creditWrite(c, rec("g2", 3), 6, 6, false); // a delta under 6
    expect(load<f64>(creditDef(c, 4), 16)).toBe(10);
    expect(load<f64>(creditDef(c, 6), 16)).toBe(3);
    // A balance new in a delta (no definition of 8): over the older generation's (4), 6's kept.
    creditWrite(c, rec("g3", 1), 8, 8, false);
    expect(replacedAny).toBe(false);
    expect(creditDef(c, 4)).toBe(0);
    expect(load<f64>(creditDef(c, 6), 16)).toBe(3);
    expect(load<f64>(creditDef(c, 8), 16)).toBe(1);
  });

  it("deltas replace the served definition (its line reported for the digest) and removal leaves none", () => {
    const p = entryWith(4, "g1", 10);
    const c = entryCredit(p);
    creditWrite(c, rec("g2", 3, 0, -1, <f64>T0, 99), 4, 4, false);
    expect(replacedAny).toBe(true);
    expect(replacedLine).toBe(7);
    creditWrite(c, rec("g2", 3, 0, -1, <f64>T0, 99, false), 4, 4, false);
    expect(replacedLine).toBe(99);
    expect(creditDef(c, 4)).toBe(0);
  });

  it("an entry keeps its credit block across a resize; its size is checked with the block", () => {
    const p = entryWith(4, "g1", 10);
    expect(entryTotal(p)).toBe(ENTRY_SIZE + 160);
    expect(entryValid(p, ENTRY_SIZE + 160)).toBe(true);
    expect(entryValid(p, ENTRY_SIZE)).toBe(false);
    const q = heap.alloc(ENTRY_BUFFER);
    entryResize(q, p, 2, NO_KEYS);
    expect(entryValid(q, entryTotal(q))).toBe(true);
    expect(creditDef(entryCredit(q), 4)).not.toBe(0);
    const e = heap.alloc(ENTRY_BUFFER);
    entryInit(e, 0);
    expect(entryCredit(e)).toBe(0);
    creditInit(entryAddCredit(e));
    expect(creditDef(entryCredit(e), 4)).toBe(0);
  });
});

describe("credits in key feed pages", () => {
  it("parses snapshot balances with their digest lines (contracts/key-feed.ts creditHash)", () => {
    expect(parse('{"version":1,"kind":"snapshot","epoch":"e","revision":3,"keys":[],"next":null,' +
      '"credits":[["pln_gold/con_1","g1",5,7,"day",1767225600],["pln_gold/con_1","g1",5,0,"",1767225600]]}', KIND_SNAPSHOT)).toBe(true);
    const a = pageRecord(0), b = pageRecord(1);
    expect(String.UTF8.decodeUnsafe(a + 1, <usize>load<u8>(a))).toBe("pln_gold/con_1");
    const ra = a + 1 + <usize>load<u8>(a), rb = b + 1 + <usize>load<u8>(b);
    // node -e: createHash('sha256').update(creditLine(c)).digest().subarray(0, 8).toString('hex')
    expect(hex8(load<u64>(ra, 44))).toBe("2dc6f588f88e8938");
    expect(hex8(load<u64>(rb, 44))).toBe("e88e4b274816ccc5");
    expect(load<u32>(ra)).toBe(1);
    expect(load<f64>(ra, 12)).toBe(5);
    expect(load<f64>(ra, 20)).toBe(7);
    expect(load<i32>(ra, 36)).toBe(PER_DAY);
    expect(load<i32>(rb, 36)).toBe(-1);
  });

  it("parses set and remove in deltas (op before or after the credit)", () => {
    expect(parse('{"version":1,"kind":"delta","epoch":"e","since":1,"revision":3,"more":false,"changes":[],' +
      '"credits":[{"credit":["pln_gold/con_1","g1",5,0,"",1767225600],"op":"remove"},{"op":"set","credit":["p/c","g-2",1,1,"month",0]}]}', KIND_DELTA)).toBe(true);
    const a = pageRecord(0), b = pageRecord(1);
    expect(load<u32>(a + 1 + <usize>load<u8>(a))).toBe(0);
    expect(load<u32>(b + 1 + <usize>load<u8>(b))).toBe(1);
  });

  it("refuses bad balances whole: bad subscription, grant, period, number, arity", () => {
    const head = '{"version":1,"kind":"snapshot","epoch":"e","revision":3,"keys":[],"next":null,"credits":[';
    const bad = [
      '["nosubscription","g1",5,0,"",0]', '["p/c","",5,0,"",0]', '["p/c","g.1",5,0,"",0]',
      '["p/c","g123456789012345678901234567890123",5,0,"",0]', '["p/c","g1",5,0,"week",0]', '["p/c","g1",-1,0,"",0]',
      '["p/c","g1",1.5,0,"",0]', '["p/c","g1",9007199254740992,0,"",0]', '["p/c","g1",5,0,""]', '["p/c","g1",5,0,"",0,1]',
      '{"subscription":"p/c"}', '["p/c","g1","5",0,"",0]',
    ];
    for (let i = 0; i < bad.length; i++) expect(parse(head + bad[i] + "]}", KIND_SNAPSHOT)).toBe(false, bad[i]);
    expect(parse('{"version":1,"kind":"delta","epoch":"e","since":1,"revision":3,"more":false,"changes":[],' +
      '"credits":[{"op":"add","credit":["p/c","g1",5,0,"",0]}]}', KIND_DELTA)).toBe(false);
    // Every prefix of a valid page: refused, never a trap.
    const ok = head + '["pln_gold/con_1","g1",5,7,"day",1767225600]],"creditSpend":[{"subscription":"p/c","grant":"g1","from":0,"others":2}]}';
    for (let n = 0; n < ok.length; n++) expect(parse(ok.substring(0, n), KIND_SNAPSHOT)).toBe(false);
    expect(parse(ok, KIND_SNAPSHOT)).toBe(true);
    expect(page.spends.len).toBe(1 + 3 + 24);
  });
});

let spends = 0;
let lastGrant: u64 = 0;
let lastFrom: f64 = 0;
let lastOthers: f64 = 0;
function spendSink(_s: usize, _n: usize, grant: u64, from: f64, others: f64): bool {
  spends++; lastGrant = grant; lastFrom = from; lastOthers = others;
  return true;
}

describe("creditSpend in usage replies", () => {
  it("delivers valid entries, skips bad ones, and a reply parses the same without a credit sink", () => {
    const reply = '{"version":2,"batchId":"b","duplicate":false,"fleet":[],"creditSpend":[' +
      '{"subscription":"p/c","grant":"g1","from":1767225600,"others":12},' +
      '{"subscription":"nope","grant":"g1","from":0,"others":1},{"subscription":"p/c","grant":"g.1","from":0,"others":1},' +
      '{"subscription":"p/c","grant":"g1","from":-1,"others":1},{"subscription":"p/c","grant":"g1","from":0,"others":1.5},' +
      '{"subscription":"p/c","grant":"g1","from":0},{"subscription":"p/c","grant":"g2","from":0,"others":3,"extra":[1,{"a":2}]}]}';
    const b = String.UTF8.encode(reply);
    spends = 0;
    expect(parseReply(changetype<usize>(b), <usize>b.byteLength, noFleet, spendSink)).toBe(0);
    expect(spends).toBe(2);
    expect(lastGrant).toBe(g("g2"));
    expect(lastFrom).toBe(0);
    expect(lastOthers).toBe(3);
    spends = 0;
    expect(parseReply(changetype<usize>(b), <usize>b.byteLength, noFleet)).toBe(0);
    expect(spends).toBe(0);
    const cut = String.UTF8.encode(reply.substring(0, 120));
    expect(parseReply(changetype<usize>(cut), <usize>cut.byteLength, noFleet, spendSink)).toBe(-1);
  });
});
