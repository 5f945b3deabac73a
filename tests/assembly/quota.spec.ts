import { Decision, decide, ENTRY_SIZE, entryInit, entrySetOthers, usedInWindow } from "../../assembly/quota/entry";
import { Limit } from "../../assembly/config/model";
import { PER_DAY, PER_MINUTE, PER_MONTH, PER_SECOND } from "../../assembly/window";

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
