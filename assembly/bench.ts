// Extra export for bench/filter.ts only (build/tollgate.bench.wasm, never shipped): SHA-256 timed in isolation.
import { sha256 } from "./sha256";

export function bench_sha256(ptr: usize, len: usize, out: usize, times: i32): void {
  for (let i = 0; i < times; i++) sha256(ptr, len, out);
}
