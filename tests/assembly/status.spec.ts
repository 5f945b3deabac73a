// `:status` parsing (assembly/http/status.ts), shared by the response path (usage status classes) and the usage
// flush (retry or not): exactly three digits, else 0.
import { parseStatus } from "../../assembly/http/status";

function st(s: string): u32 {
  const b = String.UTF8.encode(s);
  return parseStatus(changetype<usize>(b), <usize>b.byteLength);
}

describe(":status", () => {
  it("three digits", () => {
    expect(st("200")).toBe(200);
    expect(st("503")).toBe(503);
    expect(st("100")).toBe(100);
    expect(st("999")).toBe(999);
  });
  it("anything else is 0: neither a success nor a refusal", () => {
    expect(st("")).toBe(0);
    expect(st("20")).toBe(0);
    expect(st("2000")).toBe(0);
    expect(st("2x0")).toBe(0);
    expect(st(" 200")).toBe(0);
    expect(st("/00")).toBe(0);
    expect(st(":00")).toBe(0);
  });
});
