// No plaintext key outlives its request: after whole streams (allowed, refused, key in a header or the query, hidden
// or forwarded), the filter's linear memory holds no copy of the key. The module runs on a minimal in-process
// Proxy-Wasm import set (as bench/filter.ts does) so the test can read the guest's memory; the test host does not
// expose it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digest, wasm } from './harness.js';

type WasmImports = Record<string, Record<string, unknown>>;
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: WasmImports): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
type Exports = Record<string, (...args: number[]) => number> & { memory: { readonly buffer: ArrayBuffer } };

const ROOT = 1;
const NOW_NS = 1767225600_000_000_000n + 30_000_000_000n;
const enc = new TextEncoder();

/** The ABI's header-pairs encoding. */
function pairs(list: Array<[string, string]>): Uint8Array {
  const e = list.map(([k, v]) => [enc.encode(k), enc.encode(v)] as const);
  let size = 4 + e.length * 8;
  for (const [k, v] of e) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, e.length, true);
  let o = 4;
  for (const [k, v] of e) { dv.setUint32(o, k.length, true); dv.setUint32(o + 4, v.length, true); o += 8; }
  for (const [k, v] of e) { out.set(k, o); o += k.length + 1; out.set(v, o); o += v.length + 1; }
  return out;
}

/** The filter on a minimal host: just enough of ABI 0.2.1 for whole streams. */
class Guest {
  ex!: Exports;
  request: Uint8Array = new Uint8Array(0);
  readonly response = pairs([[':status', '200'], ['content-type', 'text/plain']]);
  readonly shared = new Map<string, { value: Uint8Array; cas: number }>();
  localReplies: number[] = [];
  forwarded: Uint8Array[] = [];
  private config: Uint8Array = new Uint8Array(0);
  private nextCas = 1;

  private mem(): Uint8Array { return new Uint8Array(this.ex.memory.buffer); }
  private dv(): DataView { return new DataView(this.ex.memory.buffer); }
  private give(bytes: Uint8Array, rp: number, rl: number): number {
    const p = bytes.length === 0 ? 0 : this.ex.malloc!(bytes.length) >>> 0;
    if (p !== 0) this.mem().set(bytes, p);
    this.dv().setUint32(rp, p, true);
    this.dv().setUint32(rl, bytes.length, true);
    return 0;
  }
  private text(p: number, n: number): string { return new TextDecoder().decode(this.mem().slice(p, p + n)); }

  async load(config: unknown): Promise<void> {
    const env = {
      proxy_log: () => 0,
      proxy_get_header_map_pairs: (map: number, rp: number, rl: number) => this.give(map === 0 ? this.request : map === 2 ? this.response : new Uint8Array(0), rp, rl),
      proxy_set_header_map_pairs: (map: number, p: number, n: number) => { if (map === 0) this.forwarded.push(this.mem().slice(p, p + n)); return 0; },
      proxy_get_header_map_value: (_m: number, _kp: number, _kl: number, rp: number, rl: number) => this.give(enc.encode('200'), rp, rl),
      proxy_get_current_time_nanoseconds: (rp: number) => { this.dv().setBigUint64(rp, NOW_NS, true); return 0; },
      proxy_get_shared_data: (kp: number, kl: number, rp: number, rl: number, rc: number) => {
        const e = this.shared.get(this.text(kp, kl));
        if (e === undefined) return 1;
        this.give(e.value, rp, rl);
        this.dv().setUint32(rc, e.cas, true);
        return 0;
      },
      proxy_set_shared_data: (kp: number, kl: number, vp: number, vl: number, cas: number) => {
        const key = this.text(kp, kl);
        const e = this.shared.get(key);
        if (e !== undefined && cas !== 0 && e.cas !== cas >>> 0) return 8;
        this.shared.set(key, { value: this.mem().slice(vp, vp + vl), cas: this.nextCas++ });
        return 0;
      },
      proxy_send_local_response: (status: number) => { this.localReplies.push(status); return 0; },
      proxy_get_buffer_bytes: (_t: number, s: number, m: number, rp: number, rl: number) => this.give(this.config.subarray(s, s + m), rp, rl),
      proxy_http_call: () => 2,
      // The filter asks for the node id (fleet status); this host has none: NotFound.
      proxy_get_property: () => 1,
      proxy_set_tick_period_milliseconds: () => 0,
      proxy_define_metric: (_t: number, _p: number, _n: number, rp: number) => { this.dv().setUint32(rp, 1, true); return 0; },
      proxy_increment_metric: () => 0,
      proxy_record_metric: () => 0,
    };
    const wasi = { fd_write: () => 0, proc_exit: () => undefined, random_get: () => 0 };
    const { instance } = await wasmApi.instantiate(wasm(), { env, wasi_snapshot_preview1: wasi });
    this.ex = instance.exports as unknown as Exports;
    this.ex._start?.();
    this.config = enc.encode(JSON.stringify(config));
    this.ex.proxy_on_context_create!(ROOT, 0);
    this.ex.proxy_on_vm_start!(ROOT, 0);
    assert.equal(this.ex.proxy_on_configure!(ROOT, this.config.length), 1, 'configuration accepted');
  }

  /** One whole stream. */
  stream(ctx: number, headers: Array<[string, string]>): void {
    this.request = pairs(headers);
    const ex = this.ex;
    ex.proxy_on_context_create!(ctx, ROOT);
    ex.proxy_on_request_headers!(ctx, headers.length, 1);
    ex.proxy_on_response_headers!(ctx, 2, 0);
    ex.proxy_on_log!(ctx);
    ex.proxy_on_done!(ctx);
    ex.proxy_on_delete!(ctx);
  }

  /** Whether `bytes` occur anywhere in the guest's linear memory. */
  holds(bytes: Uint8Array): boolean {
    return Buffer.from(this.ex.memory.buffer).indexOf(Buffer.from(bytes)) >= 0;
  }
}

const KEY = 'tgk_' + randomBytes(32).toString('base64url');
const OTHER = 'tgk_' + randomBytes(32).toString('base64url'); // a well-formed key nobody configured

function config(hideCredentials: boolean): unknown {
  return {
    version: 1,
    apis: [{ id: 'api_orders', pathPrefix: '/orders' }],
    plans: [{ id: 'pln_gold', limits: [{ requests: 1000, per: 'minute' }], apiIds: ['api_orders'] }],
    keys: [[digest(KEY), 'key_residue', 'con_residue', 0]],
    hideCredentials,
  };
}

function request(extra: Array<[string, string]>, path = '/orders/1'): Array<[string, string]> {
  return [[':authority', 'shop.example.com'], [':path', path], [':method', 'GET'], ['accept', '*/*'], ...extra];
}

describe('no plaintext key outlives its request', () => {
  it('allowed with the key in a header, in the query, percent-encoded in the query', async () => {
    const g = new Guest();
    await g.load(config(true));
    g.stream(2, request([['x-api-key', KEY]]));
    g.stream(3, request([], `/orders/1?a=1&api_key=${KEY}`));
    g.stream(4, request([], `/orders/1?api_key=${encodeURIComponent(KEY).replace(/_/g, '%5F')}`));
    assert.deepEqual(g.localReplies, [], 'all three were allowed');
    assert.equal(g.forwarded.length, 3);
    assert.equal(g.holds(enc.encode(KEY)), false);
  });

  it('refused: an unknown key, an over-long one, and one with broken percent-encoding', async () => {
    const g = new Guest();
    await g.load(config(true));
    g.stream(2, request([['x-api-key', OTHER]]));
    g.stream(3, request([['x-api-key', OTHER + 'x'.repeat(300)]]));
    g.stream(4, request([], `/orders/1?api_key=${OTHER}%zz`));
    assert.deepEqual(g.localReplies, [401, 401, 401]);
    assert.equal(g.holds(enc.encode(OTHER)), false);
  });

  it('forwarded with the key (hideCredentials off): the host has it, the guest keeps no copy', async () => {
    const g = new Guest();
    await g.load(config(false));
    g.stream(2, request([['x-api-key', KEY]]));
    assert.deepEqual(g.localReplies, []);
    assert.ok(Buffer.from(g.forwarded[0]!).includes(Buffer.from(KEY)), 'the upstream gets the key');
    assert.equal(g.holds(enc.encode(KEY)), false);
  });
});
