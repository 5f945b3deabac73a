// Proxy-Wasm ABI 0.2.1 entry points (thin: dispatch to the root and HTTP modules). No SDK: see docs/filter.md.
// Every callback first resets the arena the host's returned data is written into (abi/memory.ts).
// Runtime: 'minimal' (see asconfig.json): 45 KB instead of 69 KB with 'incremental', and no GC work can ever start
// inside a request callback; garbage (configuration-time only) is collected explicitly below.

import { guestAlloc, resetArena } from "./abi/memory";
import { onRequestHeaders, FILTER_CONTINUE } from "./http/request";
import { onDelete, onLog, onResponseHeaders } from "./http/response";
import { config, onConfigure, onHttpCallResponse, onTick, onVmStart } from "./root";

export function proxy_abi_version_0_2_1(): void {}

export function malloc(size: usize): usize {
  return guestAlloc(size);
}

export function proxy_on_memory_allocate(size: usize): usize {
  return guestAlloc(size);
}

export function proxy_on_context_create(_ctx: u32, _parent: u32): void {
  resetArena();
}

export function proxy_on_vm_start(root: u32, _size: u32): u32 {
  resetArena();
  return onVmStart(root) ? 1 : 0;
}

export function proxy_on_configure(root: u32, size: u32): u32 {
  resetArena();
  const ok = onConfigure(root, size);
  // The 'minimal' runtime never collects on its own (so the hot path can never pause for GC); collect here and on
  // ticks, at the end of an exported call where no managed reference is left on the stack. This frees a replaced
  // configuration.
  __collect();
  return ok ? 1 : 0;
}

export function proxy_on_tick(root: u32): void {
  resetArena();
  onTick(root);
  __collect();
}

export function proxy_on_http_call_response(root: u32, token: u32, numHeaders: u32, bodySize: u32, _numTrailers: u32): void {
  resetArena();
  onHttpCallResponse(root, token, numHeaders, bodySize);
  // A key feed snapshot answers page after page between two ticks: its garbage (scanners, fleet period names) is
  // collected per reply, not left to pile up until the next tick.
  __collect();
}

export function proxy_on_request_headers(ctx: u32, _numHeaders: u32, _eos: u32): u32 {
  resetArena();
  const cfg = config;
  if (cfg == null) return FILTER_CONTINUE;
  return onRequestHeaders(cfg, ctx);
}

export function proxy_on_request_body(_ctx: u32, _size: u32, _eos: u32): u32 { return 0; }
export function proxy_on_request_trailers(_ctx: u32, _n: u32): u32 { return 0; }

export function proxy_on_response_headers(ctx: u32, _numHeaders: u32, _eos: u32): u32 {
  resetArena();
  return onResponseHeaders(ctx);
}

export function proxy_on_response_body(_ctx: u32, _size: u32, _eos: u32): u32 { return 0; }
export function proxy_on_response_trailers(_ctx: u32, _n: u32): u32 { return 0; }

export function proxy_on_log(ctx: u32): void {
  resetArena();
  onLog(ctx);
}

export function proxy_on_done(_ctx: u32): u32 { return 1; }

export function proxy_on_delete(ctx: u32): void {
  resetArena();
  onDelete(ctx);
}

export function proxy_on_queue_ready(_root: u32, _token: u32): void {}
