// The exact host-function signatures Envoy registers for Proxy-Wasm ABI 0.2.1 (proxy-wasm-cpp-host exports.h) and
// the load-time lists around them: a module is linked only when every import matches one of these by module, name and
// type.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64';
export interface Signature {
  params: ValType[];
  results: ValType[];
}

const i = (n: number): ValType[] => Array.from({ length: n }, () => 'i32' as ValType);
const word = (n: number): Signature => ({ params: i(n), results: ['i32'] });

/** env.proxy_* functions of ABI 0.2.1 (0.1.0-only functions such as proxy_get_configuration are deliberately absent). */
export const PROXY_SIGNATURES: Record<string, Signature> = {
  proxy_log: word(3),
  proxy_get_log_level: word(1),
  proxy_get_status: word(3),
  proxy_set_property: word(4),
  proxy_get_property: word(4),
  proxy_send_local_response: word(8),
  proxy_get_shared_data: word(5),
  proxy_set_shared_data: word(5),
  proxy_register_shared_queue: word(3),
  proxy_resolve_shared_queue: word(5),
  proxy_dequeue_shared_queue: word(3),
  proxy_enqueue_shared_queue: word(3),
  proxy_get_header_map_value: word(5),
  proxy_add_header_map_value: word(5),
  proxy_replace_header_map_value: word(5),
  proxy_remove_header_map_value: word(3),
  proxy_get_header_map_pairs: word(3),
  proxy_set_header_map_pairs: word(3),
  proxy_get_header_map_size: word(2),
  proxy_get_buffer_status: word(3),
  proxy_get_buffer_bytes: word(5),
  proxy_set_buffer_bytes: word(5),
  proxy_http_call: word(10),
  proxy_grpc_call: word(12),
  proxy_grpc_stream: word(9),
  proxy_grpc_cancel: word(1),
  proxy_grpc_close: word(1),
  proxy_grpc_send: word(4),
  proxy_set_tick_period_milliseconds: word(1),
  proxy_get_current_time_nanoseconds: word(1),
  proxy_define_metric: word(4),
  proxy_increment_metric: { params: ['i32', 'i64'], results: ['i32'] },
  proxy_record_metric: { params: ['i32', 'i64'], results: ['i32'] },
  proxy_get_metric: word(2),
  proxy_set_effective_context: word(1),
  proxy_done: word(0),
  proxy_call_foreign_function: word(6),
  proxy_continue_stream: word(1),
  proxy_close_stream: word(1),
  // Not a proxy_* function, but Envoy registers it in "env" for Emscripten-built modules.
  pthread_equal: word(2),
  // Also registered in "env" by proxy-wasm-cpp-host (a no-op for Emscripten-built modules).
  emscripten_notify_memory_growth: { params: ['i32'], results: [] },
};

/** WASI functions Envoy provides, registered under both wasi_unstable and wasi_snapshot_preview1. */
export const WASI_SIGNATURES: Record<string, Signature> = {
  fd_write: word(4),
  fd_read: word(4),
  fd_seek: { params: ['i32', 'i64', 'i32', 'i32'], results: ['i32'] },
  fd_close: word(1),
  fd_fdstat_get: word(2),
  fd_prestat_get: word(2),
  fd_prestat_dir_name: word(3),
  environ_get: word(2),
  environ_sizes_get: word(2),
  args_get: word(2),
  args_sizes_get: word(2),
  clock_time_get: { params: ['i32', 'i64', 'i32'], results: ['i32'] },
  random_get: word(2),
  proc_exit: { params: ['i32'], results: [] },
  path_open: { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i64', 'i64', 'i32', 'i32'], results: ['i32'] },
};

export const WASI_MODULES = ['wasi_unstable', 'wasi_snapshot_preview1'] as const;

/** Host functions a module may call while its start function runs; anything else traps (restricted_callback). */
export const START_ALLOWED = new Set([
  'proxy_log', 'fd_write', 'args_get', 'args_sizes_get', 'environ_get', 'environ_sizes_get', 'fd_prestat_get',
  'fd_prestat_dir_name', 'clock_time_get', 'random_get',
]);

export const ABI_VERSION_EXPORTS = ['proxy_abi_version_0_2_1', 'proxy_abi_version_0_2_0', 'proxy_abi_version_0_1_0'] as const;
