// Bounds-checked access to a guest's linear memory. Every (ptr, len) the guest hands over is checked here; a failed
// check surfaces as InvalidMemoryAccess to the guest instead of a host exception. The buffer is re-read on every
// access because memory.grow detaches the old ArrayBuffer.

import type { WasmMemory } from '../runtime/webassembly.js';

export class OutOfBounds extends Error {}

export type Allocate = (size: number) => number;

export class GuestMemory {
  private memory: WasmMemory | undefined;
  private allocate: Allocate | undefined;

  bind(memory: WasmMemory | undefined, allocate: Allocate | undefined): void {
    this.memory = memory;
    this.allocate = allocate;
  }

  private bytes(): Uint8Array {
    if (this.memory === undefined) throw new OutOfBounds('module has no memory');
    return new Uint8Array(this.memory.buffer);
  }

  private check(ptr: number, len: number): Uint8Array {
    const bytes = this.bytes();
    const p = ptr >>> 0;
    const l = len >>> 0;
    if (p + l > bytes.length) throw new OutOfBounds(`${p}+${l} outside ${bytes.length}`);
    return bytes;
  }

  read(ptr: number, len: number): Uint8Array {
    const bytes = this.check(ptr, len);
    return bytes.slice(ptr >>> 0, (ptr >>> 0) + (len >>> 0));
  }

  readString(ptr: number, len: number): string {
    return new TextDecoder().decode(this.read(ptr, len));
  }

  write(ptr: number, data: Uint8Array): void {
    const bytes = this.check(ptr, data.length);
    bytes.set(data, ptr >>> 0);
  }

  writeU32(ptr: number, value: number): void {
    this.check(ptr, 4);
    new DataView(this.memory!.buffer).setUint32(ptr >>> 0, value >>> 0, true);
  }

  writeU64(ptr: number, value: bigint): void {
    this.check(ptr, 8);
    new DataView(this.memory!.buffer).setBigUint64(ptr >>> 0, BigInt.asUintN(64, value), true);
  }

  readU32(ptr: number): number {
    this.check(ptr, 4);
    return new DataView(this.memory!.buffer).getUint32(ptr >>> 0, true);
  }

  /** Checks that a u32 out-slot is writable without writing (Envoy validates before allocating). */
  checkSlot(ptr: number, size: number): void {
    this.check(ptr, size);
  }

  /**
   * Copies data into a fresh guest allocation and writes its pointer and length to the two u32 slots; empty data
   * writes 0/0 without allocating, as Envoy does.
   */
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): void {
    this.check(ptrPtr, 4);
    this.check(sizePtr, 4);
    if (data.length === 0) {
      this.writeU32(ptrPtr, 0);
      this.writeU32(sizePtr, 0);
      return;
    }
    if (this.allocate === undefined) throw new OutOfBounds('module exports no allocator');
    const ptr = this.allocate(data.length);
    if (ptr === 0) throw new OutOfBounds('allocator returned 0');
    this.write(ptr, data);
    this.writeU32(ptrPtr, ptr);
    this.writeU32(sizePtr, data.length);
  }
}
