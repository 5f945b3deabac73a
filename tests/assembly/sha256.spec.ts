import { sha256 } from "../../assembly/sha256";
import { writeHex } from "../../assembly/bytes";

function hashHex(s: string): string {
  const b = String.UTF8.encode(s);
  const out = new ArrayBuffer(32);
  sha256(changetype<usize>(b), <usize>b.byteLength, changetype<usize>(out));
  const hex = new ArrayBuffer(64);
  writeHex(changetype<usize>(hex), changetype<usize>(out), 32);
  return String.UTF8.decode(hex);
}

describe("sha256 (NIST FIPS 180-4 examples)", () => {
  it("empty message", () => {
    expect(hashHex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
  it("abc", () => {
    expect(hashHex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
  it("448-bit message", () => {
    expect(hashHex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
      .toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });
  it("896-bit message", () => {
    expect(hashHex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"))
      .toBe("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  });
  it("one million 'a'", () => {
    expect(hashHex("a".repeat(1000000))).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });
  it("lengths around the padding boundary (55, 56, 63, 64 bytes)", () => {
    expect(hashHex("a".repeat(55))).toBe("9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    expect(hashHex("a".repeat(56))).toBe("b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    expect(hashHex("a".repeat(64))).toBe("ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  });
});
