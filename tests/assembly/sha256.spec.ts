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

/** Whether the `n` bytes at `p` occur anywhere in linear memory outside [skip, skip + n). */
function inMemory(p: usize, n: usize, skip: usize): bool {
  const end = <usize>memory.size() << 16;
  const first = load<u8>(p);
  for (let a: usize = 8; a + n <= end; a++) {
    if (a == skip || load<u8>(a) != first) continue;
    if (memory.compare(a, p, n) == 0) return true;
  }
  return false;
}

describe("sha256 leaves no copy of the message behind", () => {
  it("a 43-byte key and the last bytes of a longer message are gone once the caller wipes its own", () => {
    const lens: i32[] = [43, 100];
    for (let k = 0; k < lens.length; k++) {
      const n = <usize>lens[k];
      const msg = heap.alloc(n);
      for (let i: usize = 0; i < n; i++) store<u8>(msg + i, <u8>(0x41 + (i * 7 + <usize>k) % 26));
      const out = heap.alloc(32);
      sha256(msg, n, out);
      // A probe with the message's tail, kept while the message itself is wiped.
      const tail: usize = 20;
      const probe = heap.alloc(tail);
      memory.copy(probe, msg + n - tail, tail);
      for (let i: usize = 0; i < n; i++) store<u8>(msg + i, 0);
      expect(inMemory(probe, tail, probe)).toBe(false);
      heap.free(probe);
      heap.free(out);
      heap.free(msg);
    }
  });
});
