// Character-class checks mirroring the patterns in schemas/filter-config.v1.schema.json.

@inline function isAlnum(c: u32): bool {
  return c - 0x30 < 10 || c - 0x41 < 26 || c - 0x61 < 26;
}

/** ^[A-Za-z0-9._:-]{1,64}$ */
export function isId(p: usize, n: usize): bool {
  if (n < 1 || n > 64) return false;
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (!(isAlnum(c) || c == 0x2e || c == 0x5f || c == 0x3a || c == 0x2d)) return false;
  }
  return true;
}

/** ^[A-Za-z0-9._:/-]{1,64}$ (a limit id: its default form "<apiId>/<operationId>:<per>" has a '/') */
export function isLimitId(p: usize, n: usize): bool {
  if (n < 1 || n > 64) return false;
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (!(isAlnum(c) || c == 0x2e || c == 0x5f || c == 0x3a || c == 0x2d || c == 0x2f)) return false;
  }
  return true;
}

/** ^[a-z0-9!#$%&'*+.^_`|~-]{min,128}$ */
export function isHeaderName(p: usize, n: usize, allowEmpty: bool): bool {
  if (n > 128 || (n == 0 && !allowEmpty)) return false;
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    const ok = c - 0x30 < 10 || c - 0x61 < 26 || c == 0x21 || c == 0x23 || c == 0x24 || c == 0x25 || c == 0x26 ||
      c == 0x27 || c == 0x2a || c == 0x2b || c == 0x2e || c == 0x5e || c == 0x5f || c == 0x60 || c == 0x7c ||
      c == 0x7e || c == 0x2d;
    if (!ok) return false;
  }
  return true;
}

/** ^(\*\.)?[a-z0-9]([a-z0-9.-]{0,252})?$ */
export function isHostPattern(p: usize, n: usize): bool {
  let i: usize = 0;
  if (n >= 2 && load<u8>(p) == 0x2a && load<u8>(p + 1) == 0x2e) i = 2;
  if (i >= n || n - i > 253) return false;
  const c0 = <u32>load<u8>(p + i);
  if (!(c0 - 0x30 < 10 || c0 - 0x61 < 26)) return false;
  for (let j = i + 1; j < n; j++) {
    const c = <u32>load<u8>(p + j);
    if (!(c - 0x30 < 10 || c - 0x61 < 26 || c == 0x2e || c == 0x2d)) return false;
  }
  return true;
}

/** ^[A-Z]{1,16}$ */
export function isMethod(p: usize, n: usize): bool {
  if (n < 1 || n > 16) return false;
  for (let i: usize = 0; i < n; i++) if (<u32>load<u8>(p + i) - 0x41 >= 26) return false;
  return true;
}

/** A JSON number that is an integer within [min, max]. */
export function isIntIn(v: f64, min: f64, max: f64): bool {
  return Math.floor(v) == v && v >= min && v <= max;
}
