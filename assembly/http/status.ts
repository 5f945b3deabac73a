// A `:status` value as a number: the upstream's response (usage status classes) and the control service's reply
// to a usage report (retry or not) are both read with this.

/** The status in `n` bytes at `p`: exactly three digits, else 0 (which no caller treats as a success or a refusal). */
export function parseStatus(p: usize, n: usize): u32 {
  if (n != 3) return 0;
  let v: u32 = 0;
  for (let i: usize = 0; i < 3; i++) {
    const c = <u32>load<u8>(p + i) - 0x30;
    if (c > 9) return 0;
    v = v * 10 + c;
  }
  return v;
}
