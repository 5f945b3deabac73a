// Filter benchmark (`npm run bench`). Method: each module is instantiated directly with a minimal in-process
// Proxy-Wasm import set (below), and the exported callbacks of whole stream lifecycles are timed in a loop; the
// time of the same loop on a no-op module (same exports, empty bodies) is subtracted, so the figures are the
// modules' own cost including their host calls at the stub's (near-zero) cost, not the test host's. The SDK
// pass-through and our filter are measured side by side in one run, alternating rounds; the fastest round counts.
// `match1000OpsVs10Ratio`: the same authorized request (static key, one limit) to an API with 1,000 operations ÷ to
// one with 10 (docs/filter-config.md "Operations"): 100 resources of 10 operations each (list, create, get, update,
// delete, items list/create, item get/delete, files/*) vs one such resource; the request hits the item-get template
// `/orders/rNNN/{id}/items/{item}` of the last resource (r099 vs r000: same path length and shape), both measured in
// the same alternating rounds as the other rows.
import { createHash, randomFillSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { BenchRow } from './row.js';
import { parsePairs, serializePairs } from '../host/abi/pairs.js';
import { setDigest, type FeedKey } from '../contracts/key-feed.js';

const ROOT = 1;
const NOW_NS = 1767225600_000_000_000n + 30_000_000_000n;

// The project's TypeScript libs do not declare WebAssembly; declare just what the bench uses.
type WasmImports = Record<string, Record<string, unknown>>;
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: WasmImports): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type Exports = Record<string, (...args: number[]) => number> & { memory: { readonly buffer: ArrayBuffer } };


/**
 * The stub's shared-data key: a 53-bit hash of the key's bytes (two FNV-1a variants), so a million bucket keys do
 * not collide (they would at 32 bits) while the stub still never decodes a key.
 */
function sharedKeyHash(m: Uint8Array, p: number, n: number): number {
  let h = 2166136261, g = 0x811c9dc5 ^ n;
  for (let i = 0; i < n; i++) {
    const c = m[p + i]!;
    h = Math.imul(h ^ c, 16777619);
    g = Math.imul(g ^ c, 0x01000193) ^ (g >>> 13);
  }
  return (h >>> 0) * 2097152 + ((g >>> 0) & 0x1fffff);
}

// The key feed's shared-data layout (assembly/keyfeed/layout.ts), encoded from TypeScript so the bench can hold a
// million keys in the stub's shared data without a million-key sync. tests/filter/key-feed-layout.test.ts proves it
// byte-equal to what the filter's own sync writes.
export const FEED_TARGET_PER_BUCKET = 8;

export function feedBitsFor(keys: number, target = FEED_TARGET_PER_BUCKET): number {
  let bits = 0;
  while (bits < 22 && 2 ** bits * target < keys) bits++;
  return bits;
}

export function feedBucketOf(digest: Buffer, bits: number): number {
  return bits === 0 ? 0 : digest.readUInt32BE(0) >>> (32 - bits);
}

export function feedBucketKey(gen: number, idx: number): string {
  return `tg:kf:${(gen & 1) === 0 ? 'a' : 'b'}${idx.toString(16)}`;
}

export function feedEntry(k: FeedKey): Buffer {
  const ids = [k[1], k[2], k[3]].map((s) => Buffer.from(s, 'utf8'));
  const e = Buffer.alloc(39 + ids[0]!.length + ids[1]!.length + ids[2]!.length);
  Buffer.from(k[0], 'base64url').copy(e, 0);
  e.writeUInt32LE(k[4], 32);
  let o = 36;
  for (const id of ids) { e[o] = id.length; id.copy(e, o + 1); o += 1 + id.length; }
  return e;
}

export function feedMeta(m: { gen: number; bits: number; count: number; revision: number; digest: string; epoch: string; lastGen?: number }): Buffer {
  const b = Buffer.alloc(44 + 64);
  b.writeUInt32LE(0x314b4754, 0);
  b.writeUInt32LE(m.gen, 4);
  b[8] = m.bits;
  const epoch = Buffer.from(m.epoch, 'utf8');
  b[9] = epoch.length;
  b.writeUInt32LE(m.count, 12);
  b.writeDoubleLE(m.revision, 16);
  Buffer.from(m.digest, 'hex').copy(b, 24);
  b.writeUInt32LE(m.lastGen ?? m.gen, 40);
  epoch.copy(b, 44);
  return b;
}

/** Every shared-data entry of a key set in the feed layout: the buckets of generation `gen` and the meta. */
export function encodeFeedSet(keys: FeedKey[], opts: { gen?: number; revision?: number; epoch?: string; digest?: string; targetPerBucket?: number } = {}): Map<string, Buffer> {
  const gen = opts.gen ?? 1;
  const bits = feedBitsFor(keys.length, opts.targetPerBucket);
  const buckets = new Map<number, Buffer[]>();
  for (const k of keys) {
    const idx = feedBucketOf(Buffer.from(k[0], 'base64url'), bits);
    const list = buckets.get(idx) ?? [];
    list.push(feedEntry(k));
    buckets.set(idx, list);
  }
  const out = new Map<string, Buffer>();
  const head = Buffer.alloc(4);
  head.writeUInt32LE(gen, 0);
  for (const [idx, entries] of buckets) out.set(feedBucketKey(gen, idx), Buffer.concat([head, ...entries]));
  out.set('tg:kf:m', feedMeta({
    gen, bits, count: keys.length, revision: opts.revision ?? 1, epoch: opts.epoch ?? 'bench', digest: opts.digest ?? setDigest(keys),
  }));
  return out;
}

/** A minimal Proxy-Wasm host: just enough of ABI 0.2.1 for a stream's lifecycle, with call counting. */
class StubHost {
  ex!: Exports;
  requestPairs: Uint8Array = new Uint8Array(0);
  responsePairs = serializePairs([[':status', '200'], ['content-type', 'application/json'], ['content-length', '2']]);
  pluginConfig: Uint8Array = new Uint8Array(0);
  nextCas = 1;
  counting = false;
  calls: Record<string, number> = {};
  localReplies = 0;

  // Views are cached and refreshed only when memory grows, and shared-data keys are hashed from guest bytes
  // instead of decoded: the stub must cost as little as possible so the figures are the modules' own.
  private mem8 = new Uint8Array(0);
  private memDv = new DataView(new ArrayBuffer(8));
  private readonly status200 = new TextEncoder().encode('200');

  private u8(): Uint8Array { this.refresh(); return this.mem8; }
  private dv(): DataView { this.refresh(); return this.memDv; }
  private refresh(): void {
    // Growing wasm memory detaches the old buffer (length 0): only then is a new view needed.
    if (this.mem8.byteLength === 0) {
      const b = this.ex.memory.buffer;
      this.mem8 = new Uint8Array(b);
      this.memDv = new DataView(b);
    }
  }
  private count(name: string): void { if (this.counting) this.calls[name] = (this.calls[name] ?? 0) + 1; }

  /** Copies bytes into guest memory through its allocator and writes ptr/len at the out-pointers. */
  private give(bytes: Uint8Array, retPtr: number, retLen: number): number {
    if (bytes.length === 0) {
      const dv = this.dv();
      dv.setUint32(retPtr, 0, true); dv.setUint32(retLen, 0, true);
      return 0;
    }
    const p = this.ex.malloc!(bytes.length) >>> 0;
    this.u8().set(bytes, p);
    const dv = this.dv();
    dv.setUint32(retPtr, p, true);
    dv.setUint32(retLen, bytes.length, true);
    return 0;
  }

  private keyOf(p: number, n: number): number {
    return sharedKeyHash(this.u8(), p, n);
  }

  /** Writes a shared-data entry directly (the bench's 1M-key population, as Envoy's store would hold it). */
  putShared(key: string, value: Uint8Array): void {
    const k = Buffer.from(key, 'latin1');
    this.shared.set(sharedKeyHash(k, 0, k.length), { value, cas: this.nextCas++ });
  }

  getShared(key: string): Uint8Array | undefined {
    const k = Buffer.from(key, 'latin1');
    return this.shared.get(sharedKeyHash(k, 0, k.length))?.value;
  }

  /** http_call: accepted when `acceptCalls` (the feed's sync, driven by the bench), refused otherwise. */
  acceptCalls = false;
  httpCalls: Array<{ token: number; headers: Array<[string, string]> }> = [];
  callBody: Uint8Array = new Uint8Array(0);
  private nextToken = 1;

  shared = new Map<number, { value: Uint8Array; cas: number }>();

  imports(): WasmImports {
    const env = {
      proxy_log: () => { this.count('proxy_log'); return 0; },
      proxy_get_header_map_pairs: (map: number, rp: number, rl: number) => {
        this.count('proxy_get_header_map_pairs');
        return this.give(map === 0 ? this.requestPairs : map === 2 ? this.responsePairs : new Uint8Array(0), rp, rl);
      },
      proxy_set_header_map_pairs: () => { this.count('proxy_set_header_map_pairs'); return 0; },
      proxy_get_header_map_value: (_map: number, _kp: number, _kl: number, rp: number, rl: number) => {
        this.count('proxy_get_header_map_value');
        return this.give(this.status200, rp, rl);
      },
      proxy_get_current_time_nanoseconds: (rp: number) => {
        this.count('proxy_get_current_time_nanoseconds');
        this.dv().setBigUint64(rp, NOW_NS, true);
        return 0;
      },
      proxy_get_shared_data: (kp: number, kl: number, rp: number, rl: number, rc: number) => {
        this.count('proxy_get_shared_data');
        const e = this.shared.get(this.keyOf(kp, kl));
        if (e === undefined) return 1;
        this.give(e.value, rp, rl);
        this.dv().setUint32(rc, e.cas, true);
        return 0;
      },
      proxy_set_shared_data: (kp: number, kl: number, vp: number, vl: number, cas: number) => {
        this.count('proxy_set_shared_data');
        const key = this.keyOf(kp, kl);
        const e = this.shared.get(key);
        if (e !== undefined && cas !== 0 && e.cas !== cas >>> 0) return 8;
        if (e !== undefined && e.value.length === vl) {
          e.value.set(this.u8().subarray(vp, vp + vl));
          e.cas = this.nextCas++;
        } else this.shared.set(key, { value: this.u8().slice(vp, vp + vl), cas: this.nextCas++ });
        return 0;
      },
      proxy_send_local_response: () => { this.count('proxy_send_local_response'); this.localReplies++; return 0; },
      proxy_get_buffer_bytes: (t: number, start: number, max: number, rp: number, rl: number) => {
        this.count('proxy_get_buffer_bytes');
        return this.give((t === 4 ? this.callBody : this.pluginConfig).subarray(start, start + max), rp, rl);
      },
      proxy_http_call: (_cp: number, _cl: number, hp: number, hl: number, _bp: number, _bl: number, _tp: number, _tl: number, _timeout: number, tokenPtr: number) => {
        this.count('proxy_http_call');
        if (!this.acceptCalls) return 2;
        const token = this.nextToken++;
        this.httpCalls.push({ token, headers: parsePairs(this.u8().slice(hp, hp + hl)) });
        this.dv().setUint32(tokenPtr, token, true);
        return 0;
      },
      proxy_set_tick_period_milliseconds: () => { this.count('proxy_set_tick_period_milliseconds'); return 0; },
      proxy_define_metric: (_t: number, _p: number, _n: number, rp: number) => { this.dv().setUint32(rp, 4, true); return 0; },
      proxy_increment_metric: () => 0,
      proxy_record_metric: () => 0,
      proxy_set_effective_context: () => { this.count('proxy_set_effective_context'); return 0; },
      // Only the solo runtime asks for properties: its root context lookup by plugin_root_id.
      proxy_get_property: (_p: number, _n: number, rp: number, rl: number) => {
        this.count('proxy_get_property');
        return this.give(new TextEncoder().encode('solo_passthrough'), rp, rl);
      },
    };
    const wasi = {
      fd_write: () => 0,
      proc_exit: () => undefined,
      random_get: (p: number, n: number) => { randomFillSync(this.u8(), p, n); return 0; },
    };
    return { env, wasi_snapshot_preview1: wasi, wasi_unstable: wasi };
  }

  async load(wasm: Uint8Array, config: string): Promise<void> {
    const { instance } = await wasmApi.instantiate(wasm, this.imports());
    this.ex = instance.exports as unknown as Exports;
    if (this.ex._initialize) this.ex._initialize();
    else if (this.ex._start) this.ex._start();
    this.pluginConfig = new TextEncoder().encode(config);
    this.ex.proxy_on_context_create!(ROOT, 0);
    this.ex.proxy_on_vm_start!(ROOT, 0);
    if (this.ex.proxy_on_configure!(ROOT, this.pluginConfig.length) === 0) throw new Error('bench: configuration rejected');
  }

  /** One whole stream: create → request headers → response headers → log → done → delete. */
  stream(ctx: number): void {
    const ex = this.ex;
    ex.proxy_on_context_create!(ctx, ROOT);
    ex.proxy_on_request_headers!(ctx, 8, 1);
    ex.proxy_on_response_headers!(ctx, 3, 0);
    ex.proxy_on_log!(ctx);
    ex.proxy_on_done!(ctx);
    ex.proxy_on_delete!(ctx);
  }

  open(ctx: number): void {
    this.ex.proxy_on_context_create!(ctx, ROOT);
    this.ex.proxy_on_request_headers!(ctx, 8, 1);
  }
}

const NOOP_WAT = `(module
  (memory (export "memory") 2)
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32)))`;

async function noopWasm(): Promise<Uint8Array> {
  const wabt = await (await import('wabt')).default();
  const m = wabt.parseWat('noop.wat', NOOP_WAT);
  try {
    return m.toBinary({}).buffer;
  } finally {
    m.destroy();
  }
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

const KEY = 'tg_' + 'Q'.repeat(40); // 43 bytes, the length the control service issues

function config(limits: Array<{ requests: number; per: string }>, extraKeys = 0): string {
  const keys: unknown[] = [[digest(KEY), 'key_bench0001', 'con_bench0001', 0]];
  for (let i = 0; i < extraKeys; i++) keys.push([digest(`k${i}`), `key_${i.toString(36).padStart(10, '0')}`, `con_${(i % 997).toString(36).padStart(8, '0')}`, 0, 1798761600]);
  return JSON.stringify({
    version: 1,
    apis: [{ id: 'api_orders', pathPrefix: '/orders', methods: ['GET', 'POST'] }, { id: 'api_other', pathPrefix: '/other' }],
    plans: [{ id: 'pln_gold', limits, apiIds: ['api_orders'] }],
    keys,
  });
}

/** A static-key configuration whose API has `resources` × 10 operations (see the header comment). */
function opsConfig(resources: number, limits: unknown[] = HUGE): string {
  const operations: unknown[] = [];
  for (let i = 0; i < resources; i++) {
    const r = `/orders/r${String(i).padStart(3, '0')}`;
    const op = (suffix: string, method: string, path: string): void => { operations.push({ id: `op_${i}_${suffix}`, method, path }); };
    op('list', 'GET', r); op('create', 'POST', r);
    op('get', 'GET', `${r}/{id}`); op('update', 'PUT', `${r}/{id}`); op('delete', 'DELETE', `${r}/{id}`);
    op('items', 'GET', `${r}/{id}/items`); op('add', 'POST', `${r}/{id}/items`);
    op('item', 'GET', `${r}/{id}/items/{item}`); op('remove', 'DELETE', `${r}/{id}/items/{item}`);
    op('files', 'GET', `${r}/{id}/files/*`);
  }
  return JSON.stringify({
    version: 1,
    apis: [{ id: 'api_orders', pathPrefix: '/orders/', methods: ['GET', 'POST', 'PUT', 'DELETE'], operations }, { id: 'api_other', pathPrefix: '/other' }],
    plans: [{ id: 'pln_gold', limits, apiIds: ['api_orders'] }],
    keys: [[digest(KEY), 'key_bench0001', 'con_bench0001', 0]],
  });
}

/**
 * `limits8VsOneRatio`: 8 limits applicable to the ops10 request (resource r000's item-get operation): the five
 * unscoped periods, one API-scoped and two operation-scoped (docs/filter-config.md "Limits that compose").
 */
const LIMITS8 = [
  { requests: 2147483647, per: 'second' }, { requests: 2147483647, per: 'minute' }, { requests: 2147483647, per: 'hour' },
  { requests: 2147483647, per: 'day' }, { requests: 2147483647, per: 'month' },
  { requests: 2147483647, per: 'minute', apiId: 'api_orders' },
  { requests: 2147483647, per: 'minute', apiId: 'api_orders', operationId: 'op_0_item' },
  { requests: 2147483647, per: 'hour', apiId: 'api_orders', operationId: 'op_0_item' },
];

/** The operations rows' request: the REQUEST's shape with the item-get path of resource `r`. */
function opsRequest(r: number): Array<[string, string]> {
  return REQUEST.map(([k, v]) => [k, k === ':path' ? `/orders/r${String(r).padStart(3, '0')}/42/items/7?expand=items` : v]);
}

/** Ids as the control service makes them (prefix + 10 chars), so entry sizes are the production ones. */
const PLAN_ID = 'pln_gold000001';
const id = (kind: string, i: number): string => `${kind}_${i.toString(36).padStart(10, '0')}`;
const BENCH_FEED_KEY: FeedKey = [digest(KEY), 'key_bench0001', 'con_bench0001', PLAN_ID, 0];

/** The production configuration: no static keys, usage reporting and the key feed. */
function feedConfig(limits: Array<{ requests: number; per: string }>, pageKeys = 2000): string {
  return JSON.stringify({
    version: 1,
    apis: [{ id: 'api_orders', pathPrefix: '/orders', methods: ['GET', 'POST'] }, { id: 'api_other', pathPrefix: '/other' }],
    plans: [{ id: PLAN_ID, limits, apiIds: ['api_orders'] }],
    usage: { cluster: 'ctl', authority: 'ctl', path: '/v1/usage/reports', intervalMs: 10000, token: 'Bearer tgr_x' },
    keyFeed: { snapshotPath: '/v1/keyfeed/snapshot', deltasPath: '/v1/keyfeed/deltas', waitS: 25, pageKeys, retryMs: 2000 },
  });
}

/** `n` feed keys (the bench's own key among them), sorted by digest text as the control service pages them. */
function feedKeys(n: number): FeedKey[] {
  const keys: FeedKey[] = [BENCH_FEED_KEY];
  for (let i = 1; i < n; i++) keys.push([digest(`k${i}`), id('key', i), id('con', i % 99_991), PLAN_ID, 1798761600]);
  return keys.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** A filter instance whose process shared data holds `keys` in the feed layout (as a completed sync leaves it). */
async function feedHost(wasm: Uint8Array, keys: FeedKey[], targetPerBucket = FEED_TARGET_PER_BUCKET): Promise<StubHost> {
  const h = await host(wasm, feedConfig(HUGE));
  for (const [k, v] of encodeFeedSet(keys, { digest: '0000000000000000', targetPerBucket })) h.putShared(k, v);
  return h;
}

/**
 * A subscription's quota entry (assembly/quota/entry.ts: magic, header with the credit flag, five period slots) with
 * a credit block (assembly/quota/credit.ts) whose current definition, for key-set generation `gen`, is a prepaid
 * balance that never runs out: what a synced credit balance leaves in shared data.
 */
function creditEntry(gen: number): Buffer {
  const b = Buffer.alloc(8 + 5 * 32 + 160);
  b.writeUInt32LE(0x31514754, 0);
  b.writeUInt32LE(0x10000, 4);
  for (let i = 0; i < 5; i++) { b.writeDoubleLE(-1, 8 + i * 32); b.writeDoubleLE(-1, 8 + i * 32 + 16); }
  const c = 168;
  b.writeUInt32LE(gen, c);
  b.writeUInt32LE(1, c + 4);
  b.writeBigUInt64LE(0x1234n, c + 8);
  b.writeDoubleLE(2 ** 53 - 1, c + 16);
  b.writeInt32LE(-1, c + 40);
  b.writeDoubleLE(-1, c + 112 + 8);
  b.writeDoubleLE(-1, c + 112 + 32);
  return b;
}

/**
 * Runs the filter's own sync in `h` against pages built from `keys` (snapshot pages of `pageKeys`, answered from the
 * bench), until it asks for deltas. Returns the number of pages served.
 */
function driveSync(h: StubHost, keys: FeedKey[], pageKeys: number): number {
  h.acceptCalls = true;
  h.ex.proxy_on_tick!(ROOT);
  let pages = 0;
  for (;;) {
    const call = h.httpCalls.shift();
    if (call === undefined) throw new Error('bench: the sync made no call');
    const path = call.headers.find(([k]) => k === ':path')?.[1] ?? '';
    if (!path.startsWith('/v1/keyfeed/snapshot')) return pages;
    const after = new URL(path, 'http://x').searchParams.get('after');
    const from = after === null ? 0 : keys.findIndex((k) => k[0] > after);
    const slice = keys.slice(from, from + pageKeys);
    const last = from + pageKeys >= keys.length;
    const page: Record<string, unknown> = {
      version: 1, kind: 'snapshot', epoch: 'bench', revision: 1, keys: slice, next: last ? null : slice[slice.length - 1]![0],
    };
    if (last) { page.digest = setDigest(keys); page.fleet = []; }
    h.callBody = new TextEncoder().encode(JSON.stringify(page));
    h.ex.proxy_on_http_call_response!(ROOT, call.token, 1, h.callBody.length, 0);
    pages++;
  }
}

/**
 * Bytes proxy-wasm-cpp-host's shared data (src/shared_data.h: std::unordered_map<std::string, std::pair<std::string,
 * uint32_t>> per vm_id) takes for these entries on 64-bit libstdc++ + glibc malloc: per entry a hash node (next
 * pointer 8, key std::string 32, value std::string 32, cas 4 + padding 4, cached hash 8 = 88 → a 96-byte malloc
 * chunk), one bucket-array pointer (8, load factor ≤ 1), and each string longer than 15 bytes (no small-string
 * storage) on the heap: malloc(len + 1) → a chunk of max(32, len + 1 + 8 rounded up to 16).
 */
export function cppHostSharedBytes(entries: Iterable<[string, number]>): number {
  const heap = (len: number): number => (len <= 15 ? 0 : Math.max(32, Math.ceil((len + 1 + 8) / 16) * 16));
  let total = 0;
  for (const [key, valueLen] of entries) total += 96 + 8 + heap(Buffer.byteLength(key, 'latin1')) + heap(valueLen);
  return total;
}

const REQUEST: Array<[string, string]> = [
  [':authority', 'shop.example.com'], [':path', '/orders/42?expand=items'], [':method', 'GET'], [':scheme', 'https'],
  ['user-agent', 'bench/1.0'], ['accept', 'application/json'], ['x-request-id', '0f6c1c2e-7d3b-4b8e-9a55-6c1d2e3f4a5b'],
  ['x-api-key', KEY],
];
const HUGE = [{ requests: 2147483647, per: 'month' }];

/** Fastest round: on a shared, noisy machine the minimum is the most repeatable estimate of a loop's cost. */
function best(xs: number[]): number {
  return Math.min(...xs);
}

async function host(wasm: Uint8Array, cfg: string): Promise<StubHost> {
  const h = new StubHost();
  h.requestPairs = serializePairs(REQUEST);
  await h.load(wasm, cfg);
  return h;
}

/** ns per stream for `iterations` streams (context ids continue from `next`). */
function timeStreams(h: StubHost, state: { next: number }, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) h.stream(state.next++);
  return Number(process.hrtime.bigint() - start) / iterations;
}

export async function run(): Promise<BenchRow[]> {
  const ours = readFileSync('build/tollgate.wasm');
  const bench = readFileSync('build/tollgate.bench.wasm');
  const sdkPath = 'build/fixtures/sdk-passthrough.wasm';
  const hasSdk = existsSync(sdkPath);
  // Optional second baseline (tests/filter/baselines/build-solo-passthrough.mjs).
  const soloPath = 'build/baselines/solo-passthrough.wasm';
  // (A non-empty configuration: the solo runtime reads past a null pointer when the configuration is empty.)
  const solo = existsSync(soloPath) ? await host(readFileSync(soloPath), '{}') : undefined;
  const noop = await host(await noopWasm(), '{}');
  // Many short rounds: on a shared machine the quiet moments are short, and the fastest round is what counts.
  const ITER = 5_000;
  const ROUNDS = 60;
  // 1,000 other live streams on the VM vs none, on one instance (no instance-to-instance bias): each round opens
  // 1,000 admitted streams, times authorized streams, finishes the 1,000, and times again. Measured first, before
  // anything else in this run has touched the JIT or the heap.
  const vm = await host(ours, config(HUGE));
  const vmState = { next: 1_000_000 };
  const noopState = { next: 10 };
  const finish = (h: StubHost, ctx: number): void => {
    h.ex.proxy_on_response_headers!(ctx, 3, 0);
    h.ex.proxy_on_log!(ctx); h.ex.proxy_on_done!(ctx); h.ex.proxy_on_delete!(ctx);
  };
  for (let i = 0; i < 3; i++) { timeStreams(vm, vmState, ITER); timeStreams(noop, noopState, ITER); }
  const tb: number[] = [], ti: number[] = [], tn: number[] = [];
  for (let r = 0; r < ROUNDS * 2; r++) {
    for (let i = 0; i < 1000; i++) vm.open(100 + i);
    tb.push(timeStreams(vm, vmState, ITER));
    for (let i = 0; i < 1000; i++) finish(vm, 100 + i);
    ti.push(timeStreams(vm, vmState, ITER));
    tn.push(timeStreams(noop, noopState, ITER));
  }
  const concurrencyRatio = (best(tb) - best(tn)) / (best(ti) - best(tn));

  // The static-key path (a standalone configuration) and the production path: a key delivered by the key feed,
  // looked up in the process's shared data (1,000 keys there, and 1,000,000 for the lookup ratio).
  const filter = await host(ours, config(HUGE));
  const keys1k = feedKeys(1_000);
  const keys1M = feedKeys(1_000_000);
  const feed = await feedHost(ours, keys1k);
  const feed1M = await feedHost(ours, keys1M);
  // The same production path with a credit balance on the key's subscription (creditsVsNoCreditsRatio).
  const credits = await feedHost(ours, keys1k);
  credits.putShared(`tg:q:${PLAN_ID}/${BENCH_FEED_KEY[2]}`, creditEntry(1));
  const sdk = hasSdk ? await host(readFileSync(sdkPath), '') : undefined;
  const ops10 = await host(ours, opsConfig(1));
  ops10.requestPairs = serializePairs(opsRequest(0));
  const ops1000 = await host(ours, opsConfig(100));
  ops1000.requestPairs = serializePairs(opsRequest(99));
  const limits8 = await host(ours, opsConfig(1, LIMITS8));
  limits8.requestPairs = serializePairs(opsRequest(0));

  // Sanity: the measured paths really are the authorized ones.
  // Counted on a VM's second request: the first also reads the feed's meta, which a VM re-reads once per tick.
  const callsOf = (h: StubHost): number => {
    h.stream(1);
    h.counting = true;
    h.calls = {};
    h.stream(2);
    h.counting = false;
    if (h.localReplies !== 0) throw new Error('bench: the authorized request was rejected');
    return Object.values(h.calls).reduce((a, b) => a + b, 0);
  };
  const staticHostCalls = callsOf(filter);
  const hostCallsAuthorized = callsOf(feed);
  const feedCallKinds = { ...feed.calls };
  if (callsOf(feed1M) !== hostCallsAuthorized) throw new Error('bench: 1M-key lookup made other host calls');
  if (callsOf(credits) !== hostCallsAuthorized) throw new Error('bench: a credit balance made other host calls');
  if (Buffer.from(credits.getShared(`tg:q:${PLAN_ID}/${BENCH_FEED_KEY[2]}`) ?? []).readDoubleLE(168 + 112 + 16) < 1) throw new Error('bench: the balance was not spent');
  if (callsOf(ops10) !== staticHostCalls || callsOf(ops1000) !== staticHostCalls) throw new Error('bench: an operation request made other host calls');
  if (callsOf(limits8) !== staticHostCalls) throw new Error('bench: 8 limits made other host calls');
  for (let i = 0; i < 1000; i++) { filter.stream(3 + i); feed.stream(3 + i); feed1M.stream(3 + i); credits.stream(3 + i); }
  const filterMemoryAfterWarmup = feed.ex.memory.buffer.byteLength;
  for (let i = 0; i < 1000; i++) ops1000.stream(3 + i);
  const opsMemoryAfterWarmup = ops1000.ex.memory.buffer.byteLength;
  const creditsMemoryAfterWarmup = credits.ex.memory.buffer.byteLength;

  const states = {
    noop: { next: 1_000_000 }, filter: { next: 2000 }, feed: { next: 2000 }, feed1M: { next: 2000 }, sdk: { next: 10 },
    solo: { next: 10 }, ops10: { next: 2000 }, ops1000: { next: 2000 }, limits8: { next: 2000 }, credits: { next: 2000 },
  };
  for (let i = 0; i < 3; i++) { // warm-up (JIT tiers)
    timeStreams(noop, states.noop, ITER);
    timeStreams(filter, states.filter, ITER);
    timeStreams(feed, states.feed, ITER);
    timeStreams(feed1M, states.feed1M, ITER);
    timeStreams(ops10, states.ops10, ITER);
    timeStreams(ops1000, states.ops1000, ITER);
    timeStreams(limits8, states.limits8, ITER);
    timeStreams(credits, states.credits, ITER);
    if (sdk) timeStreams(sdk, states.sdk, ITER);
    if (solo) timeStreams(solo, states.solo, ITER);
  }
  const t = {
    noop: [] as number[], filter: [] as number[], feed: [] as number[], feed1M: [] as number[], sdk: [] as number[],
    solo: [] as number[], ops10: [] as number[], ops1000: [] as number[], limits8: [] as number[], credits: [] as number[],
  };
  for (let r = 0; r < ROUNDS; r++) {
    t.noop.push(timeStreams(noop, states.noop, ITER));
    t.filter.push(timeStreams(filter, states.filter, ITER));
    t.feed.push(timeStreams(feed, states.feed, ITER));
    t.feed1M.push(timeStreams(feed1M, states.feed1M, ITER));
    t.ops10.push(timeStreams(ops10, states.ops10, ITER));
    t.ops1000.push(timeStreams(ops1000, states.ops1000, ITER));
    t.limits8.push(timeStreams(limits8, states.limits8, ITER));
    t.credits.push(timeStreams(credits, states.credits, ITER));
    if (sdk) t.sdk.push(timeStreams(sdk, states.sdk, ITER));
    if (solo) t.solo.push(timeStreams(solo, states.solo, ITER));
  }
  // Zero allocation on the hot path: linear memory must not have grown over all the streams timed above.
  const memoryBefore = filterMemoryAfterWarmup;
  // (and on the operations path: the trie walk allocates nothing either)
  const hotPathGrowth = feed.ex.memory.buffer.byteLength - memoryBefore + ops1000.ex.memory.buffer.byteLength - opsMemoryAfterWarmup +
    credits.ex.memory.buffer.byteLength - creditsMemoryAfterWarmup;
  const base = best(t.noop);
  const staticAuthorizedNs = best(t.filter) - base;
  const authorizedNs = best(t.feed) - base;
  const feed1MNs = best(t.feed1M) - base;
  const lookupRatio = feed1MNs / authorizedNs;
  const ops10Ns = best(t.ops10) - base;
  const ops1000Ns = best(t.ops1000) - base;
  const opsRatio = ops1000Ns / ops10Ns;
  const limits8Ratio = (best(t.limits8) - base) / ops10Ns;
  const creditsRatio = (best(t.credits) - base) / authorizedNs;
  const sdkNs = sdk ? best(t.sdk) - base : NaN;
  const soloNs = solo ? best(t.solo) - base : NaN;

  // Shared-data calls with three limits, uncontended.
  const three = await host(ours, config([{ requests: 2147483647, per: 'second' }, { requests: 2147483647, per: 'hour' }, { requests: 2147483647, per: 'month' }]));
  three.counting = true;
  three.stream(2);
  const sharedCalls = (three.calls.proxy_get_shared_data ?? 0) + (three.calls.proxy_set_shared_data ?? 0);

  // SHA-256 of a 43-byte key, in isolation.
  const sh = await host(bench, config(HUGE));
  const p = sh.ex.malloc!(128) >>> 0;
  new Uint8Array(sh.ex.memory.buffer).set(new TextEncoder().encode(KEY), p);
  sh.ex.bench_sha256!(p, 43, p + 64, 10_000);
  const shaRuns: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const s0 = process.hrtime.bigint();
    sh.ex.bench_sha256!(p, 43, p + 64, 100_000);
    shaRuns.push(Number(process.hrtime.bigint() - s0) / 100_000);
  }
  const expect = createHash('sha256').update(KEY).digest();
  if (!Buffer.from(sh.ex.memory.buffer, p + 64, 32).equals(expect)) throw new Error('bench: sha256 mismatch');

  // Parsing 10,000 keys (proxy_on_configure, buffer copy included).
  const cfg10k = config(HUGE, 9_999);
  const parser = await host(ours, cfg10k);
  parser.pluginConfig = new TextEncoder().encode(cfg10k);
  const parseRuns: number[] = [];
  for (let r = 0; r < 7; r++) {
    const s0 = process.hrtime.bigint();
    if (parser.ex.proxy_on_configure!(ROOT, parser.pluginConfig.length) !== 1) throw new Error('bench: 10k config rejected');
    parseRuns.push(Number(process.hrtime.bigint() - s0) / 1e6);
  }

  // VM memory with 100,000 keys: linear memory size after configuration (it includes the ~9 MB the host copied
  // the JSON into: wasm memory never shrinks).
  const big = await host(ours, config(HUGE, 99_999));
  const vmMemory = big.ex.memory.buffer.byteLength;

  // One Envoy with 1,000,000 keys: 2 worker VMs + the main-thread VM (linear memory, which never shrinks) + shared
  // data as proxy-wasm-cpp-host holds it (cppHostSharedBytes). The VM that syncs is the largest: its high-water mark
  // is set by one page (the host's copy of the reply, the parsed records), so it is measured after a sync at the
  // contract's largest page (10,000 keys, 3 pages). The filter's own writer must produce exactly the bench's layout.
  const syncKeys = feedKeys(30_000);
  const syncer = await host(ours, feedConfig(HUGE, 10_000));
  const pages = driveSync(syncer, syncKeys, 10_000);
  const synced = syncer.getShared('tg:kf:m');
  const gen = synced === undefined ? 0 : Buffer.from(synced).readUInt32LE(4);
  const expected = encodeFeedSet(syncKeys, { gen, epoch: 'bench', revision: 1 });
  for (const [k, v] of expected) {
    const got = syncer.getShared(k);
    if (got === undefined || !Buffer.from(got).equals(v)) throw new Error(`bench: the filter's sync wrote ${k} differently from the bench's encoder`);
  }
  if (pages !== 3) throw new Error(`bench: sync served ${pages} pages`);
  for (let i = 0; i < 1000; i++) syncer.stream(10 + i); // it serves requests too
  const holderMemory = syncer.ex.memory.buffer.byteLength;
  const workerMemory = feed1M.ex.memory.buffer.byteLength;
  const set1M = encodeFeedSet(keys1M, { digest: '0000000000000000' });
  // Steady state after a second snapshot: the replaced generation's bucket keys remain, emptied (no delete in Envoy).
  const sharedEntries: Array<[string, number]> = [];
  for (const [k, v] of set1M) {
    sharedEntries.push([k, v.length]);
    if (k !== 'tg:kf:m') sharedEntries.push([feedBucketKey(2, Number.parseInt(k.slice(7), 16)), 0]);
  }
  sharedEntries.push(['tg:kf:l', 16], ['tg:reporter', 16], ['tg:primed', 1]);
  const sharedBytes = cppHostSharedBytes(sharedEntries);
  const rawBytes = [...set1M.values()].reduce((a, v) => a + v.length, 0);
  const envoyMemory = 2 * workerMemory + holderMemory + sharedBytes;

  const ratio = authorizedNs / sdkNs;
  const rows: BenchRow[] = [
    { name: 'filter.sdkPassthroughNsPerReq', value: Math.round(sdkNs), unit: 'ns' },
    { name: 'filter.authorizedNsPerReq', value: Math.round(authorizedNs), unit: 'ns' },
    { name: 'filter.staticKeyAuthorizedNsPerReq', value: Math.round(staticAuthorizedNs), unit: 'ns' },
    { name: 'filter.keys1MAuthorizedNsPerReq', value: Math.round(feed1MNs), unit: 'ns' },
    { name: 'filter.keys1MVs1kLookupRatio', value: Number(lookupRatio.toFixed(3)), unit: 'ratio', goal: '<= 1.1', met: lookupRatio <= 1.1 },
    { name: 'filter.ops1000AuthorizedNsPerReq', value: Math.round(ops1000Ns), unit: 'ns' },
    { name: 'filter.match1000OpsVs10Ratio', value: Number(opsRatio.toFixed(3)), unit: 'ratio', goal: '<= 1.2', met: opsRatio <= 1.2 },
    { name: 'filter.limits8VsOneRatio', value: Number(limits8Ratio.toFixed(3)), unit: 'ratio' },
    { name: 'filter.creditsVsNoCreditsRatio', value: Number(creditsRatio.toFixed(3)), unit: 'ratio' },
    { name: 'filter.authorizedVsSdkPassthrough', value: Number(ratio.toFixed(3)), unit: 'ratio', goal: '<= 0.3', met: ratio <= 0.3 },
    { name: 'filter.concurrency1000Ratio', value: Number(concurrencyRatio.toFixed(3)), unit: 'ratio', goal: '<= 1.1', met: concurrencyRatio <= 1.1 },
    { name: 'filter.hotPathMemoryGrowthBytes', value: hotPathGrowth, unit: 'bytes', goal: '== 0', met: hotPathGrowth === 0 },
    { name: 'filter.sha256NsPer43B', value: Math.round(best(shaRuns)), unit: 'ns' },
    { name: 'filter.hostCallsAuthorized', value: hostCallsAuthorized, unit: 'calls', goal: '<= 7', met: hostCallsAuthorized <= 7 },
    { name: 'filter.staticKeyHostCallsAuthorized', value: staticHostCalls, unit: 'calls' },
    { name: 'filter.sharedDataCallsAuthorized', value: sharedCalls, unit: 'calls', goal: '<= 2', met: sharedCalls <= 2 },
    { name: 'filter.parse10kKeysMs', value: Number(best(parseRuns).toFixed(2)), unit: 'ms', goal: '<= 20', met: best(parseRuns) <= 20 },
    { name: 'filter.vmMemory100kKeysBytes', value: vmMemory, unit: 'bytes' },
    { name: 'filter.envoyMemory1MKeysBytes', value: envoyMemory, unit: 'bytes', goal: '<= 134217728', met: envoyMemory <= 134217728 },
    { name: 'filter.feedWorkerVmBytes', value: workerMemory, unit: 'bytes' },
    { name: 'filter.feedSyncVmBytes', value: holderMemory, unit: 'bytes' },
    { name: 'filter.feedShared1MKeysBytes', value: sharedBytes, unit: 'bytes' },
    { name: 'filter.feedShared1MKeysRawBytes', value: rawBytes, unit: 'bytes' },
    { name: 'filter.wasmBytes', value: ours.length, unit: 'bytes', goal: '<= 65536', met: ours.length <= 65536 },
  ];
  if (solo) {
    rows.splice(1, 0, { name: 'filter.soloPassthroughNsPerReq', value: Math.round(soloNs), unit: 'ns' });
    rows.splice(4, 0, { name: 'filter.authorizedVsSoloPassthrough', value: Number((authorizedNs / soloNs).toFixed(3)), unit: 'ratio' });
  }
  if (!hasSdk) rows.splice(0, 1);
  if (process.env.TOLLGATE_BENCH_VERBOSE === '1') console.error('filter bench: feed path host calls', feedCallKinds);
  return rows;
}
