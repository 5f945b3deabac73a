import {
  Decision, decide, ENTRY_MAX, ENTRY_SIZE, entryInit, entryResize, entryScoped, entrySetOthersScoped, entrySize, entryValid,
  findScoped, MAX_SCOPED_SLOTS, scopeSlotKey, usedInWindow, usedScoped,
} from "../../assembly/quota/entry";
import { Limit } from "../../assembly/config/model";
import { PER_DAY, PER_HOUR, PER_MINUTE, PER_SECOND } from "../../assembly/window";

const T: i64 = 1767225600 + 3600 + 30; // 2026-01-01T01:00:30Z
const MINUTE: f64 = <f64>(T - 30);
const HOUR: f64 = <f64>(T - 30); // 01:00:00 starts the minute and the hour
const EMPTY: Limit[] = [];

function key(scope: string, per: i32): u32 {
  const b = String.UTF8.encode(scope);
  return scopeSlotKey(changetype<usize>(b), <usize>b.byteLength, per);
}

/** A limit scoped to API `api` (index) and operation `op` (-1: whole API), its scope string naming the slot. */
function scoped(requests: u32, per: i32, api: i32, op: i32, scope: string, id: string, shadow: bool = false): Limit {
  const l = new Limit(requests, per);
  l.api = api;
  l.op = op;
  l.slot = key(scope, per);
  l.id = String.UTF8.encode(id);
  l.shadow = shadow;
  return l;
}

function unscoped(requests: u32, per: i32, id: string, shadow: bool = false): Limit {
  const l = new Limit(requests, per);
  l.id = String.UTF8.encode(id);
  l.shadow = shadow;
  return l;
}

function fresh(slots: i32): usize {
  const p = heap.alloc(ENTRY_MAX);
  entryInit(p, slots);
  return p;
}

function idOf(l: Limit | null): string {
  return l == null ? "" : String.UTF8.decode(l.id);
}

describe("quota entry with scoped slots", () => {
  it("has its size in its header; any other length is not an entry", () => {
    const p = fresh(3);
    expect(entryScoped(p)).toBe(3);
    expect(entryValid(p, entrySize(3))).toBe(true);
    expect(entryValid(p, entrySize(2))).toBe(false);
    expect(entryValid(p, ENTRY_SIZE)).toBe(false);
    store<u32>(p, 65, 4);
    expect(entryValid(p, entrySize(65))).toBe(false); // past MAX_SCOPED_SLOTS
    const q = fresh(0);
    expect(entryValid(q, ENTRY_SIZE)).toBe(true);
  });

  it("slot keys differ by scope and by period, and are never 0", () => {
    expect(key("api_a", PER_MINUTE)).not.toBe(key("api_a", PER_HOUR));
    expect(key("api_a", PER_MINUTE)).not.toBe(key("api_b", PER_MINUTE));
    expect(key("api_a/op_x", PER_MINUTE)).not.toBe(key("api_a", PER_MINUTE));
    expect(key("", PER_SECOND)).not.toBe(0);
  });

  it("every applicable limit must admit; units count against each; the denying limit is named", () => {
    const p = fresh(4);
    const perApi = scoped(3, PER_MINUTE, 0, -1, "api_a", "a-min");
    const perOp = scoped(2, PER_MINUTE, 0, 1, "api_a/op_get", "get-min");
    const other = scoped(1, PER_MINUTE, 1, -1, "api_b", "b-min");
    const limits: Limit[] = [unscoped(100, PER_HOUR, "hour"), perApi, perOp, other];
    const d = new Decision();
    decide(p, limits, T, d, 1, 1, 0, 1); // api_a, op_get
    expect(d.admitted).toBe(true);
    expect(idOf(d.which)).toBe("get-min"); // 1 left beats 2 left and 99 left
    expect(d.remaining).toBe(1);
    expect(d.window).toBe(60);
    decide(p, limits, T, d, 1, 1, 0, 1);
    decide(p, limits, T, d, 1, 1, 0, 1);
    expect(d.admitted).toBe(false);
    expect(idOf(d.which)).toBe("get-min");
    // Another operation of api_a: only the API's limit (1 left) and the hour.
    decide(p, limits, T, d, 1, 1, 0, 0);
    expect(d.admitted).toBe(true);
    expect(idOf(d.which)).toBe("a-min");
    expect(d.remaining).toBe(0);
    decide(p, limits, T, d, 1, 1, 0, 0);
    expect(d.admitted).toBe(false);
    expect(idOf(d.which)).toBe("a-min");
    // api_b is independent of api_a's limits.
    decide(p, limits, T, d, 1, 1, 1, -1);
    expect(d.admitted).toBe(true);
    expect(usedScoped(p, perApi.slot, MINUTE)).toBe(3);
    expect(usedScoped(p, perOp.slot, MINUTE)).toBe(2);
    expect(usedScoped(p, other.slot, MINUTE)).toBe(1);
    expect(usedInWindow(p, PER_HOUR, HOUR)).toBe(4);
    // A request spending 2 units against a limit with 1 left is denied, naming it.
    const q = fresh(1);
    const l2: Limit[] = [scoped(3, PER_MINUTE, 0, -1, "api_a", "a-min")];
    decide(q, l2, T, d, 1, 2, 0, -1);
    decide(q, l2, T, d, 1, 2, 0, -1);
    expect(d.admitted).toBe(false);
    expect(d.remaining).toBe(1);
  });

  it("operation defaults apply unless a plan limit of the same scope and period overrides them; plan shadow makes them shadow", () => {
    const p = fresh(4);
    const over = scoped(1, PER_MINUTE, 0, 2, "api_a/op_c", "override");
    const plan: Limit[] = [over];
    const defaults: Limit[] = [scoped(5, PER_MINUTE, 0, 2, "api_a/op_c", "api_a/op_c:minute"), scoped(2, PER_HOUR, 0, 2, "api_a/op_c", "api_a/op_c:hour")];
    const d = new Decision();
    decide(p, plan, T, d, 1, 1, 0, 2, defaults);
    expect(d.admitted).toBe(true);
    decide(p, plan, T, d, 1, 1, 0, 2, defaults);
    expect(d.admitted).toBe(false);
    expect(idOf(d.which)).toBe("override");
    const q = fresh(4);
    decide(q, EMPTY, T, d, 1, 1, 0, 2, defaults);
    decide(q, EMPTY, T, d, 1, 1, 0, 2, defaults);
    decide(q, EMPTY, T, d, 1, 1, 0, 2, defaults);
    expect(d.admitted).toBe(false);
    expect(idOf(d.which)).toBe("api_a/op_c:hour");
    // Under a shadow plan the same defaults never deny, and say which would have.
    const r = fresh(4);
    decide(r, EMPTY, T, d, 1, 1, 0, 2, defaults, true);
    decide(r, EMPTY, T, d, 1, 1, 0, 2, defaults, true);
    decide(r, EMPTY, T, d, 1, 1, 0, 2, defaults, true);
    expect(d.admitted).toBe(true);
    expect(d.hasLimit).toBe(false);
    expect(idOf(d.shadow)).toBe("api_a/op_c:hour");
  });

  it("a shadow limit is counted and reported, never denies; the headers describe the enforced limits", () => {
    const p = fresh(2);
    const shadow = scoped(1, PER_MINUTE, 0, -1, "api_a", "a-shadow", true);
    const limits: Limit[] = [unscoped(10, PER_MINUTE, "minute"), shadow];
    const d = new Decision();
    decide(p, limits, T, d, 1, 1, 0, -1);
    expect(d.admitted).toBe(true);
    expect(d.shadow).toBeNull();
    decide(p, limits, T, d, 1, 1, 0, -1);
    expect(d.admitted).toBe(true);
    expect(idOf(d.shadow)).toBe("a-shadow");
    expect(idOf(d.which)).toBe("minute");
    expect(d.remaining).toBe(8);
    expect(usedScoped(p, shadow.slot, MINUTE)).toBe(2); // counted against the shadow limit too
    // An enforced denial wins over a shadow one: nothing counted.
    const tight: Limit[] = [unscoped(2, PER_MINUTE, "minute"), shadow];
    decide(p, tight, T, d, 1, 1, 0, -1);
    expect(d.admitted).toBe(false);
    expect(d.shadow).toBeNull();
    expect(usedScoped(p, shadow.slot, MINUTE)).toBe(2);
  });

  it("two limits of one scope and period share a slot and count once", () => {
    const p = fresh(2);
    const a = scoped(5, PER_MINUTE, 0, -1, "api_a", "enforced");
    const b = scoped(3, PER_MINUTE, 0, -1, "api_a", "watch", true);
    const d = new Decision();
    decide(p, [a, b], T, d, 1, 2, 0, -1);
    expect(usedScoped(p, a.slot, MINUTE)).toBe(2);
    decide(p, [a, b], T, d, 1, 2, 0, -1);
    expect(d.admitted).toBe(true);
    expect(idOf(d.shadow)).toBe("watch");
    expect(usedScoped(p, a.slot, MINUTE)).toBe(4);
  });

  it("when every slot is taken, a stale one is reused, else the one counted longest ago", () => {
    const p = fresh(2);
    const d = new Decision();
    const s1 = scoped(10, PER_SECOND, 0, -1, "api_a", "a");
    const s2 = scoped(10, PER_MINUTE, 1, -1, "api_b", "b");
    const s3 = scoped(10, PER_MINUTE, 2, -1, "api_c", "c");
    decide(p, [s1], T, d, 1, 1, 0, -1);
    decide(p, [s2], T + 1, d, 1, 1, 1, -1);
    // At T + 1 s1's second window is stale: api_c takes its slot, api_b keeps its count.
    decide(p, [s3], T + 1, d, 1, 1, 2, -1);
    expect(findScoped(p, s1.slot)).toBe(0);
    expect(usedScoped(p, s2.slot, MINUTE)).toBe(1);
    expect(usedScoped(p, s3.slot, MINUTE)).toBe(1);
    // Nothing stale now (both minute windows live): the one counted longest ago (by window start) is evicted.
    decide(p, [s1], T + 1, d, 1, 1, 0, -1);
    expect(findScoped(p, s1.slot)).not.toBe(0);
    expect(entryScoped(p)).toBe(2);
    // A fleet count never evicts a live slot.
    const q = fresh(1);
    decide(q, [s2], T, d, 1, 1, 1, -1);
    expect(entrySetOthersScoped(q, s3.slot, PER_MINUTE, MINUTE, 5)).toBe(false);
    expect(usedScoped(q, s2.slot, MINUTE)).toBe(1);
  });

  it("an entry without scoped slots (another configuration's size) decides with scoped counts of 0 and does not trap", () => {
    const p = fresh(0);
    const d = new Decision();
    const l = scoped(1, PER_MINUTE, 0, -1, "api_a", "a");
    decide(p, [l], T, d, 1, 1, 0, -1);
    decide(p, [l], T, d, 1, 1, 0, -1);
    expect(d.admitted).toBe(true);
    expect(usedInWindow(p, PER_MINUTE, MINUTE)).toBe(2);
  });

  it("a plan change keeps the counts of slots whose scope and period survive, and the five period slots", () => {
    const p = fresh(3);
    const d = new Decision();
    const keep = scoped(10, PER_MINUTE, 0, -1, "api_a", "a");
    const drop = scoped(10, PER_HOUR, 1, -1, "api_b", "b");
    decide(p, [keep, drop, unscoped(100, PER_DAY, "day")], T, d, 1, 3, 0, -1);
    decide(p, [keep, drop], T, d, 1, 2, 1, -1);
    const keys = new StaticArray<u32>(2);
    const added = key("api_c", PER_MINUTE);
    // The new plan's keys, sorted.
    keys[0] = keep.slot < added ? keep.slot : added;
    keys[1] = keep.slot < added ? added : keep.slot;
    const q = heap.alloc(ENTRY_MAX);
    entryResize(q, p, 5, keys);
    expect(entryValid(q, entrySize(5))).toBe(true);
    expect(usedScoped(q, keep.slot, MINUTE)).toBe(3);
    expect(findScoped(q, drop.slot)).toBe(0);
    expect(usedInWindow(q, PER_DAY, <f64>(T - 3630))).toBe(5);
    // Shrinking to fewer slots than kept keys keeps what fits.
    const r = heap.alloc(ENTRY_MAX);
    entryResize(r, p, 0, keys);
    expect(entryScoped(r)).toBe(0);
    expect(usedInWindow(r, PER_MINUTE, MINUTE)).toBe(5);
  });

  it("the cap is 64 scoped slots", () => {
    expect(MAX_SCOPED_SLOTS).toBe(64);
    expect(<i32>ENTRY_MAX).toBe(<i32>entrySize(64));
  });
});
