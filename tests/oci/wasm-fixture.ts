// Test helper: small valid wasm modules that differ by a custom section, so each test can push distinct content.

function uleb128(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** `\0asm` v1 + one custom section named `tollgate-test` holding `payload`. */
export function testWasm(payload: string): Buffer {
  const name = Buffer.from('tollgate-test');
  const body = Buffer.concat([Buffer.from(uleb128(name.length)), name, Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00]), Buffer.from(uleb128(body.length)), body]);
}
