// A small pull scanner for JSON over raw bytes that reports errors instead of aborting.
// Why not json-as: on malformed input json-as 1.6 throws (`Invalid JSON syntax`, `Incomplete or malformed JSON
// value`), and an AssemblyScript throw is an abort, i.e. a trap that kills the VM in Envoy. Configuration and the
// control service's replies come from outside, so the filter must survive any bytes; this scanner never traps.

const MAX_DEPTH = 64;

export class JsonScanner {
  private p: usize;
  private end: usize;
  private start: usize;
  failed: bool = false;
  error: string = "";
  /** Last string read (UTF-8, unescaped). */
  str: usize = 0;
  strLen: usize = 0;
  private strCap: usize = 0;
  /** Last number read. */
  num: f64 = 0;

  constructor(ptr: usize, len: usize) {
    this.p = ptr;
    this.start = ptr;
    this.end = ptr + len;
  }

  get offset(): usize { return this.p - this.start; }

  fail(message: string): bool {
    if (!this.failed) {
      this.failed = true;
      this.error = message;
    }
    return false;
  }

  private ws(): void {
    while (this.p < this.end) {
      const c = load<u8>(this.p);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.p++;
    }
  }

  /** Next non-space byte without consuming it, or -1 at the end. */
  peek(): i32 {
    this.ws();
    return this.p < this.end ? <i32>load<u8>(this.p) : -1;
  }

  private eat(c: i32): bool {
    if (this.peek() == c) { this.p++; return true; }
    return false;
  }

  /** True when only whitespace is left. */
  atEnd(): bool { return this.peek() == -1; }

  beginObject(): bool {
    if (this.failed) return false;
    return this.eat(0x7b) || this.fail("expected an object");
  }

  beginArray(): bool {
    if (this.failed) return false;
    return this.eat(0x5b) || this.fail("expected an array");
  }

  /** Advances to the next member of an object (index i = members already read); its key is left in str. */
  nextMember(i: i32): bool {
    if (this.failed) return false;
    if (i == 0) {
      if (this.eat(0x7d)) return false;
    } else {
      if (this.eat(0x7d)) return false;
      if (!this.eat(0x2c)) return this.fail("expected ',' or '}'");
    }
    if (this.peek() != 0x22) return this.fail("expected a member name");
    if (!this.readString()) return false;
    return this.eat(0x3a) || this.fail("expected ':'");
  }

  /** Advances to the next element of an array (index i = elements already read). */
  nextElement(i: i32): bool {
    if (this.failed) return false;
    if (this.eat(0x5d)) return false;
    if (i > 0 && !this.eat(0x2c)) return this.fail("expected ',' or ']'");
    if (this.peek() == -1) return this.fail("unexpected end of input");
    return true;
  }

  /** Whether the last string read equals an ASCII literal. */
  strIs(lit: string): bool {
    const n = lit.length;
    if (<usize>n != this.strLen) return false;
    for (let i = 0; i < n; i++) {
      if (<i32>load<u8>(this.str + <usize>i) != lit.charCodeAt(i)) return false;
    }
    return true;
  }

  /** The last string read as a managed String (configuration time only). */
  strValue(): string {
    return String.UTF8.decodeUnsafe(this.str, this.strLen, false);
  }

  /**
   * Frees the string buffer. It is raw heap memory, which the garbage collector does not see: every scanner must be
   * released when its caller is done, or each configuration and each usage reply leaks its longest string (a
   * garbage reply with a 4 MiB string would leak 8 MiB per flush until allocation fails, i.e. a trap).
   */
  release(): void {
    if (this.str != 0) heap.free(this.str);
    this.str = 0;
    this.strLen = 0;
    this.strCap = 0;
  }

  private ensureStr(n: usize): void {
    if (n <= this.strCap) return;
    const cap: usize = n < 256 ? 256 : n * 2;
    const nb = heap.alloc(cap);
    if (this.str != 0) {
      memory.copy(nb, this.str, this.strLen);
      heap.free(this.str);
    }
    this.str = nb;
    this.strCap = cap;
  }

  private hex4(): i32 {
    if (this.end - this.p < 4) return -1;
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = <u32>load<u8>(this.p + <usize>i);
      let d: i32;
      if (c - 0x30 < 10) d = <i32>(c - 0x30);
      else if ((c | 0x20) - 0x61 < 6) d = <i32>((c | 0x20) - 0x61 + 10);
      else return -1;
      v = (v << 4) | d;
    }
    this.p += 4;
    return v;
  }

  private putUtf8(cp: u32): void {
    this.ensureStr(this.strLen + 4);
    const o = this.str + this.strLen;
    if (cp < 0x80) { store<u8>(o, <u8>cp); this.strLen += 1; }
    else if (cp < 0x800) {
      store<u8>(o, <u8>(0xc0 | (cp >> 6))); store<u8>(o + 1, <u8>(0x80 | (cp & 63))); this.strLen += 2;
    } else if (cp < 0x10000) {
      store<u8>(o, <u8>(0xe0 | (cp >> 12))); store<u8>(o + 1, <u8>(0x80 | ((cp >> 6) & 63)));
      store<u8>(o + 2, <u8>(0x80 | (cp & 63))); this.strLen += 3;
    } else {
      store<u8>(o, <u8>(0xf0 | (cp >> 18))); store<u8>(o + 1, <u8>(0x80 | ((cp >> 12) & 63)));
      store<u8>(o + 2, <u8>(0x80 | ((cp >> 6) & 63))); store<u8>(o + 3, <u8>(0x80 | (cp & 63))); this.strLen += 4;
    }
  }

  /** Reads a string value into str/strLen. */
  readString(): bool {
    if (this.failed) return false;
    if (!this.eat(0x22)) return this.fail("expected a string");
    this.strLen = 0;
    // Fast path: copy runs without escapes in one go.
    while (true) {
      let q = this.p;
      while (q < this.end) {
        const c = load<u8>(q);
        if (c == 0x22 || c == 0x5c || c < 0x20) break;
        q++;
      }
      const run = q - this.p;
      if (run > 0) {
        this.ensureStr(this.strLen + run);
        memory.copy(this.str + this.strLen, this.p, run);
        this.strLen += run;
      }
      this.p = q;
      if (q >= this.end) return this.fail("unterminated string");
      const c = load<u8>(q);
      if (c == 0x22) { this.p++; return true; }
      if (c < 0x20) return this.fail("control character in string");
      // Backslash escape.
      this.p++;
      if (this.p >= this.end) return this.fail("unterminated string");
      const e = load<u8>(this.p++);
      let out: i32 = -1;
      if (e == 0x22) out = 0x22;
      else if (e == 0x5c) out = 0x5c;
      else if (e == 0x2f) out = 0x2f;
      else if (e == 0x62) out = 0x08;
      else if (e == 0x66) out = 0x0c;
      else if (e == 0x6e) out = 0x0a;
      else if (e == 0x72) out = 0x0d;
      else if (e == 0x74) out = 0x09;
      else if (e == 0x75) {
        let cp = this.hex4();
        if (cp < 0) return this.fail("bad \\u escape");
        if (cp >= 0xd800 && cp < 0xdc00) {
          if (this.end - this.p < 6 || load<u8>(this.p) != 0x5c || load<u8>(this.p + 1) != 0x75) {
            return this.fail("lone surrogate in string");
          }
          this.p += 2;
          const lo = this.hex4();
          if (lo < 0xdc00 || lo >= 0xe000) return this.fail("lone surrogate in string");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp < 0xe000) {
          return this.fail("lone surrogate in string");
        }
        this.putUtf8(<u32>cp);
        continue;
      } else return this.fail("bad escape in string");
      this.putUtf8(<u32>out);
    }
    return false;
  }

  /** Reads a number (any JSON spelling, exponent included) into num. */
  readNumber(): bool {
    if (this.failed) return false;
    const c0 = this.peek();
    if (c0 != 0x2d && (c0 < 0x30 || c0 > 0x39)) return this.fail("expected a number");
    let neg = false;
    if (c0 == 0x2d) { neg = true; this.p++; }
    let mant: u64 = 0;
    let digits = 0;
    let exp: i32 = 0;
    if (this.p >= this.end) return this.fail("bad number");
    let c = <u32>load<u8>(this.p);
    if (c == 0x30) {
      this.p++;
    } else if (c - 0x31 < 9) {
      while (this.p < this.end && (c = <u32>load<u8>(this.p)) - 0x30 < 10) {
        if (digits < 19) { mant = mant * 10 + <u64>(c - 0x30); digits += mant == 0 ? 0 : 1; } else exp++;
        this.p++;
      }
    } else return this.fail("bad number");
    if (this.p < this.end && load<u8>(this.p) == 0x2e) {
      this.p++;
      let any = false;
      while (this.p < this.end && (c = <u32>load<u8>(this.p)) - 0x30 < 10) {
        if (digits < 19) { mant = mant * 10 + <u64>(c - 0x30); digits += mant == 0 ? 0 : 1; exp--; }
        this.p++;
        any = true;
      }
      if (!any) return this.fail("bad number");
    }
    if (this.p < this.end && (load<u8>(this.p) | 0x20) == 0x65) {
      this.p++;
      let eneg = false;
      if (this.p < this.end && (load<u8>(this.p) == 0x2b || load<u8>(this.p) == 0x2d)) {
        eneg = load<u8>(this.p) == 0x2d;
        this.p++;
      }
      let e: i32 = 0;
      let any = false;
      while (this.p < this.end && (c = <u32>load<u8>(this.p)) - 0x30 < 10) {
        if (e < 100000) e = e * 10 + <i32>(c - 0x30);
        this.p++;
        any = true;
      }
      if (!any) return this.fail("bad number");
      exp += eneg ? -e : e;
    }
    let v = <f64>mant;
    if (mant != 0) {
      // Exact up to 1e22; beyond, in steps of 1e22 (no Math.pow: 1 KB of code for numbers no field accepts).
      let e = exp < 0 ? -exp : exp;
      while (e > 22 && v != 0 && v != Infinity) {
        v = exp > 0 ? v * 1e22 : v / 1e22;
        e -= 22;
      }
      v = exp > 0 ? v * pow10(e) : v / pow10(e);
    }
    this.num = neg ? -v : v;
    return true;
  }

  /** Reads true/false into the return value; fails otherwise. */
  readBool(): bool {
    if (this.failed) return false;
    if (this.literal("true")) return true;
    if (this.literal("false")) return false;
    this.fail("expected true or false");
    return false;
  }

  private literal(lit: string): bool {
    this.ws();
    const n = <usize>lit.length;
    if (this.end - this.p < n) return false;
    for (let i: usize = 0; i < n; i++) {
      if (<i32>load<u8>(this.p + i) != lit.charCodeAt(<i32>i)) return false;
    }
    this.p += n;
    return true;
  }

  /** Skips any value (bounded nesting). */
  skipValue(): bool { return this.skip(0); }

  private skip(depth: i32): bool {
    if (this.failed) return false;
    if (depth > MAX_DEPTH) return this.fail("nesting too deep");
    const c = this.peek();
    if (c == 0x7b) {
      this.p++;
      for (let i = 0; this.nextMember(i); i++) if (!this.skip(depth + 1)) return false;
      return !this.failed;
    }
    if (c == 0x5b) {
      this.p++;
      for (let i = 0; this.nextElement(i); i++) if (!this.skip(depth + 1)) return false;
      return !this.failed;
    }
    if (c == 0x22) return this.readString();
    if (c == 0x74 || c == 0x66) { this.readBool(); return !this.failed; }
    if (c == 0x6e) return this.literal("null") || this.fail("bad literal");
    return this.readNumber();
  }
}

function pow10(n: i32): f64 {
  let v: f64 = 1;
  for (let i = 0; i < n; i++) v *= 10;
  return v;
}
