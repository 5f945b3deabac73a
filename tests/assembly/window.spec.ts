import { PER_DAY, PER_HOUR, PER_MINUTE, PER_MONTH, PER_SECOND, windowEnd, windowStart } from "../../assembly/window";

// 2026-01-01T00:00:00Z = 1767225600; 2024-02-29T12:00:00Z = 1709208000; 2024-03-01T00:00:00Z = 1709251200.
describe("windows aligned to UTC calendar boundaries", () => {
  it("second, minute, hour, day", () => {
    const t: i64 = 1767225600 + 3 * 3600 + 25 * 60 + 7; // 03:25:07
    expect(windowStart(PER_SECOND, t)).toBe(t);
    expect(windowEnd(PER_SECOND, t)).toBe(t + 1);
    expect(windowStart(PER_MINUTE, t)).toBe(t - 7);
    expect(windowEnd(PER_MINUTE, t - 7)).toBe(t - 7 + 60);
    expect(windowStart(PER_HOUR, t)).toBe(1767225600 + 3 * 3600);
    expect(windowStart(PER_DAY, t)).toBe(1767225600);
    expect(windowEnd(PER_DAY, 1767225600)).toBe(1767225600 + 86400);
  });
  it("boundaries: the last second belongs to the old window, the next to the new", () => {
    expect(windowStart(PER_MINUTE, 1767225659)).toBe(1767225600);
    expect(windowStart(PER_MINUTE, 1767225660)).toBe(1767225660);
    expect(windowStart(PER_DAY, 1767225599)).toBe(1767225600 - 86400);
  });
  it("month: January has 31 days", () => {
    expect(windowStart(PER_MONTH, 1767225600 + 20 * 86400)).toBe(1767225600);
    expect(windowEnd(PER_MONTH, 1767225600)).toBe(1767225600 + 31 * 86400);
  });
  it("month: leap-year February (2024) has 29 days, 2026 has 28", () => {
    const feb2024: i64 = 1706745600; // 2024-02-01
    expect(windowStart(PER_MONTH, 1709208000)).toBe(feb2024);
    expect(windowEnd(PER_MONTH, feb2024)).toBe(1709251200);
    expect(windowStart(PER_MONTH, 1709251200)).toBe(1709251200);
    const feb2026: i64 = 1769904000; // 2026-02-01
    expect(windowEnd(PER_MONTH, feb2026)).toBe(feb2026 + 28 * 86400);
  });
  it("month: century rules (2100 not leap, 2000 leap)", () => {
    const feb2100: i64 = 4105123200; // 2100-02-01
    expect(windowEnd(PER_MONTH, feb2100)).toBe(feb2100 + 28 * 86400);
    const feb2000: i64 = 949363200; // 2000-02-01
    expect(windowEnd(PER_MONTH, feb2000)).toBe(feb2000 + 29 * 86400);
  });
  it("month: December rolls into the next year; 30-day months", () => {
    const dec2025: i64 = 1764547200; // 2025-12-01
    expect(windowStart(PER_MONTH, 1767225599)).toBe(dec2025);
    expect(windowEnd(PER_MONTH, dec2025)).toBe(1767225600);
    const apr2026: i64 = 1775001600; // 2026-04-01
    expect(windowEnd(PER_MONTH, apr2026)).toBe(apr2026 + 30 * 86400);
  });
});
