// Reads function import signatures from a module's binary. WebAssembly.Module.imports() gives names and kinds but not
// types, and Envoy refuses a module whose import types differ from the host's; the type and import sections are
// simple enough that a small reader is cheaper than pulling a full decoder in.
import type { Signature, ValType } from './signatures.js';

export interface ImportEntry {
  module: string;
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  signature?: Signature;
}

const VALTYPES: Record<number, ValType | 'v128' | 'funcref' | 'externref'> = {
  0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref',
};

class Reader {
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {}
  byte(): number {
    const b = this.bytes[this.offset++];
    if (b === undefined) throw new Error('unexpected end of module');
    return b;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error('bad LEB128');
    }
  }
  name(): string {
    const len = this.u32();
    const s = new TextDecoder().decode(this.bytes.subarray(this.offset, this.offset + len));
    this.offset += len;
    return s;
  }
  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

export function readImports(bytes: Uint8Array): ImportEntry[] {
  const r = new Reader(bytes);
  r.offset = 8; // magic + version
  const types: Signature[] = [];
  const imports: ImportEntry[] = [];
  while (r.offset < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.offset + size;
    if (id === 1) {
      const count = r.u32();
      for (let n = 0; n < count; n++) {
        const form = r.byte();
        if (form !== 0x60) throw new Error(`unsupported type form 0x${form.toString(16)}`);
        const params = Array.from({ length: r.u32() }, () => VALTYPES[r.byte()] as ValType);
        const results = Array.from({ length: r.u32() }, () => VALTYPES[r.byte()] as ValType);
        types.push({ params, results });
      }
    } else if (id === 2) {
      const count = r.u32();
      for (let n = 0; n < count; n++) {
        const module = r.name();
        const name = r.name();
        const kind = r.byte();
        if (kind === 0) imports.push({ module, name, kind: 'function', signature: types[r.u32()] });
        else if (kind === 1) {
          r.byte();
          r.limits();
          imports.push({ module, name, kind: 'table' });
        } else if (kind === 2) {
          r.limits();
          imports.push({ module, name, kind: 'memory' });
        } else if (kind === 3) {
          r.byte();
          r.byte();
          imports.push({ module, name, kind: 'global' });
        } else {
          r.byte();
          r.u32();
          imports.push({ module, name, kind: 'tag' });
        }
      }
      return imports;
    }
    r.offset = end;
  }
  return imports;
}

export function sameSignature(a: Signature, b: Signature): boolean {
  return a.params.length === b.params.length && a.results.length === b.results.length &&
    a.params.every((t, n) => t === b.params[n]) && a.results.every((t, n) => t === b.results[n]);
}
