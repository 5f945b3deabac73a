import { Decision, decide, effectiveLimit, ENTRY_SIZE, entryInit, entrySetOthers, usedInWindow } from "../../assembly/quota/entry";
import { SUBSCRIPTION_KEY_MAX, subscriptionKey, subscriptionKeyOf, subscriptionSplit } from "../../assembly/quota/subscription";
import { Limit } from "../../assembly/config/model";
import { PER_DAY, PER_HOUR, PER_MINUTE, PER_MONTH, PER_SECOND } from "../../assembly/window";

const T: i64 = 1767225600 + 3600 + 30; // 2026-01-01T01:00:30Z

function fresh(): usize {
  const p = heap.alloc(ENTRY_SIZE);
  entryInit(p);
  return p;
}

describe("quota decision over one shared entry", () => {
  it("admits up to the limit, then rejects with Retry-After = window reset", () => {
    const p = fresh();
    const limits: Limit[] = [new Limit(3, PER_MINUTE)];
    const d = new Decision();
    decide(p, limits, T, d);
    expect(d.admitted).toBe(true);
    expect(d.limit).toBe(3);
    expect(d.remaining).toBe(2);
    expect(d.reset).toBe(30);
    decide(p, limits, T, d);
    decide(p, limits, T, d);
    expect(d.admitted).toBe(true);
    expect(d.remaining).toBe(0);
    decide(p, limits, T + 10, d);
    expect(d.admitted).toBe(false);
    expect(d.remaining).toBe(0);
    expect(d.reset).toBe(20);
    expect(usedInWindow(p, PER_MINUTE, <f64>(T - 30))).toBe(3);
  });
  it("a stale window is overwritten when time moves on", () => {
    const p = fresh();
    const limits: Limit[] = [new Limit(1, PER_MINUTE)];
    const d = new Decision();
    decide(p, limits, T, d);
    decide(p, limits, T + 29, d);
    expect(d.admitted).toBe(false);
    decide(p, limits, T + 30, d);
    expect(d.admitted).toBe(true);
  });
  it("the tightest limit decides the header values; every limit must have room", () => {
    const p = fresh();
    const limits: Limit[] = [new Limit(100, PER_DAY), new Limit(2, PER_SECOND), new Limit(1000, PER_MONTH)];
    const d = new Decision();
    decide(p, limits, T, d);
    expect(d.limit).toBe(2);
    expect(d.remaining).toBe(1);
    expect(d.reset).toBe(1);
    decide(p, limits, T, d);
    decide(p, limits, T, d);
    expect(d.admitted).toBe(false);
    expect(d.limit).toBe(2);
    decide(p, limits, T + 1, d);
    expect(d.admitted).toBe(true);
    expect(d.limit).toBe(2); // 1 left this second beats 97 left today
    expect(d.remaining).toBe(1);
  });
  it("rejection reports the exhausted limit whose window ends last", () => {
    const p = fresh();
    const limits: Limit[] = [new Limit(1, PER_MINUTE), new Limit(1, PER_DAY)];
    const d = new Decision();
    decide(p, limits, T, d);
    decide(p, limits, T, d);
    expect(d.admitted).toBe(false);
    expect(d.reset).toBe(<u32>(86400 - 3630));
  });
  it("fleet 'others' count against the window they belong to only", () => {
    const p = fresh();
    const limits: Limit[] = [new Limit(10, PER_DAY)];
    const d = new Decision();
    const day = <f64>(T - 3630);
    entrySetOthers(p, PER_DAY, day, 9);
    decide(p, limits, T, d);
    expect(d.admitted).toBe(true);
    expect(d.remaining).toBe(0);
    decide(p, limits, T, d);
    expect(d.admitted).toBe(false);
    // An older window's figure never replaces a newer one; the next day starts clean.
    entrySetOthers(p, PER_DAY, day - 86400, 1);
    expect(usedInWindow(p, PER_DAY, day)).toBe(10);
    decide(p, limits, T + 86400, d);
    expect(d.admitted).toBe(true);
  });
  it("no limits: admitted, no header values", () => {
    const p = fresh();
    const d = new Decision();
    decide(p, [], T, d);
    expect(d.admitted).toBe(true);
    expect(d.hasLimit).toBe(false);
  });
});

function ptr(b: ArrayBuffer): usize { return changetype<usize>(b); }
function len(b: ArrayBuffer): usize { return <usize>b.byteLength; }
const OUT = memory.data(<i32>SUBSCRIPTION_KEY_MAX + 8);

describe("subscription entry key (quota follows plan + consumer, not the key)", () => {
  it("is tg:q:<planId>/<consumerId>, whatever key the request used", () => {
    const plan = String.UTF8.encode("pln_gold"), consumer = String.UTF8.encode("con_acme");
    const n = subscriptionKey(OUT, ptr(plan), len(plan), ptr(consumer), len(consumer));
    expect(String.UTF8.decodeUnsafe(OUT, n)).toBe("tg:q:pln_gold/con_acme");
  });
  it("fits the longest ids (5 + 64 + 1 + 64 bytes) without writing past the buffer", () => {
    const a = String.UTF8.encode("a".repeat(64)), b = String.UTF8.encode("b".repeat(64));
    store<u64>(OUT + SUBSCRIPTION_KEY_MAX, 0x7777777777777777);
    const n = subscriptionKey(OUT, ptr(a), len(a), ptr(b), len(b));
    expect(n).toBe(SUBSCRIPTION_KEY_MAX);
    expect(String.UTF8.decodeUnsafe(OUT, n)).toBe("tg:q:" + "a".repeat(64) + "/" + "b".repeat(64));
    expect(load<u64>(OUT + SUBSCRIPTION_KEY_MAX)).toBe(0x7777777777777777);
    const c = String.UTF8.encode("c".repeat(65));
    expect(subscriptionKey(OUT, ptr(c), len(c), ptr(b), len(b))).toBe(0);
    expect(subscriptionKey(OUT, ptr(a), 0, ptr(b), len(b))).toBe(0);
  });
  it("a reply's \"<planId>/<consumerId>\" names the same entry; anything else names none", () => {
    const sub = String.UTF8.encode("pln_gold/con_acme");
    const n = subscriptionKeyOf(OUT, ptr(sub), len(sub));
    expect(String.UTF8.decodeUnsafe(OUT, n)).toBe("tg:q:pln_gold/con_acme");
    const bad: string[] = ["", "/", "pln_gold", "pln_gold/", "/con_acme", "pln_gold/con/acme", "pln gold/con_acme",
      "pln_gold/con_acme\n", "a".repeat(65) + "/b", "a/" + "b".repeat(65), "pln_gold//con_acme"];
    for (let i = 0; i < bad.length; i++) {
      const b = String.UTF8.encode(bad[i]);
      expect(subscriptionSplit(ptr(b), len(b))).toBe(-1, bad[i]);
      expect(subscriptionKeyOf(OUT, ptr(b), len(b))).toBe(0, bad[i]);
    }
    const longest = String.UTF8.encode("a".repeat(64) + "/" + "b".repeat(64));
    expect(subscriptionSplit(ptr(longest), len(longest))).toBe(64);
  });
});

describe("cold start: the effective limit before the first fleet sync", () => {
  it("is max(1, floor(requests x share)) for hour, day and month; second and minute unchanged", () => {
    expect(effectiveLimit(100, PER_HOUR, 0.1)).toBe(10);
    expect(effectiveLimit(1000, PER_DAY, 0.1)).toBe(100);
    expect(effectiveLimit(99, PER_MONTH, 0.1)).toBe(9);
    expect(effectiveLimit(5, PER_DAY, 0.1)).toBe(1);
    expect(effectiveLimit(5, PER_DAY, 0)).toBe(1);
    expect(effectiveLimit(7, PER_HOUR, 1)).toBe(7);
    expect(effectiveLimit(2147483647, PER_MONTH, 0.5)).toBe(1073741823);
    expect(effectiveLimit(100, PER_MINUTE, 0.1)).toBe(100);
    expect(effectiveLimit(100, PER_SECOND, 0.1)).toBe(100);
  });
  it("decide admits only the share of an hour limit and shows it in the RateLimit values", () => {
    const p = fresh();
    const limits: Limit[] = [new Limit(50, PER_MINUTE), new Limit(30, PER_HOUR)];
    const d = new Decision();
    for (let i = 0; i < 3; i++) {
      decide(p, limits, T, d, 0.1);
      expect(d.admitted).toBe(true);
    }
    expect(d.limit).toBe(3);
    expect(d.remaining).toBe(0);
    decide(p, limits, T, d, 0.1);
    expect(d.admitted).toBe(false);
    expect(d.limit).toBe(3);
    expect(d.reset).toBe(<u32>(3600 - 30));
    // Primed (share 1): the full limit, counting what was admitted while cold.
    decide(p, limits, T, d, 1);
    expect(d.admitted).toBe(true);
    expect(usedInWindow(p, PER_HOUR, <f64>(T - 30))).toBe(4);
  });
  it("the fleet's count applies against the share as well", () => {
    const p = fresh();
    const limits: Limit[] = [new Limit(100, PER_DAY)];
    const d = new Decision();
    entrySetOthers(p, PER_DAY, <f64>(T - 3630), 9);
    decide(p, limits, T, d, 0.1);
    expect(d.admitted).toBe(true);
    decide(p, limits, T, d, 0.1);
    expect(d.admitted).toBe(false);
  });
  it("a minute limit is not cut", () => {
    const p = fresh();
    const limits: Limit[] = [new Limit(4, PER_MINUTE)];
    const d = new Decision();
    for (let i = 0; i < 4; i++) { decide(p, limits, T, d, 0.1); expect(d.admitted).toBe(true); }
    decide(p, limits, T, d, 0.1);
    expect(d.admitted).toBe(false);
  });
});

describe("window bounds remembered between decisions", () => {
  it("stay right across a month's end, a day's end, and when time goes back", () => {
    const JAN31_LAST: i64 = 1769903999; // 2026-01-31T23:59:59Z
    const p = fresh();
    const limits: Limit[] = [new Limit(1, PER_MONTH), new Limit(5, PER_DAY)];
    const d = new Decision();
    decide(p, limits, JAN31_LAST, d);
    expect(d.admitted).toBe(true);
    decide(p, limits, JAN31_LAST, d);
    expect(d.admitted).toBe(false);
    expect(d.reset).toBe(1); // the month ends in a second
    decide(p, limits, JAN31_LAST + 1, d); // February: a new month and a new day
    expect(d.admitted).toBe(true);
    expect(d.limit).toBe(1);
    expect(d.reset).toBe(<u32>(28 * 86400));
    // A clock that steps back into January sees January's windows again (and January's slot was overwritten).
    const q = fresh();
    decide(q, limits, JAN31_LAST + 1, d);
    decide(q, limits, JAN31_LAST - 86400, d);
    expect(d.admitted).toBe(true);
    expect(d.reset).toBe(<u32>(86400 + 1));
  });
});
