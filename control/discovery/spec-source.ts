// Fetching the OpenAPI document a Service's annotation names: a ConfigMap key in its namespace (one GET: RBAC grants
// `get configmaps` only) or an HTTP URL of a Service in its namespace (through the mesh, with a timeout and a size
// cap). Failures come back as values (recorded in the status), never thrown: one broken Service does not stop the rest.
import { createHash } from 'node:crypto';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Syntax } from '../openapi/document.js';
import type { SpecOutcome } from './planner.js';
import { describeRef, type SpecRef } from './service-facts.js';

export interface SpecSourceOptions {
  core: Pick<CoreV1Api, 'readNamespacedConfigMap'>;
  /** Largest document taken (bytes). */
  maxBytes: number;
  timeoutMs: number;
  /** How long a fetched document is reused before it is fetched again (a URL's document can change on its own). */
  ttlMs: number;
  /** Most bytes of documents kept for reuse (oldest dropped first); default CACHE_BYTES. */
  maxCacheBytes?: number;
  /** Injected by tests (real HTTP to a loopback server standing in for the Service's DNS name). */
  fetch?: typeof fetch;
  now?: () => number;
}

/** By the key's or path's extension, else by the first character (a JSON document is an object). */
export function syntaxFor(name: string, body: Uint8Array, contentType?: string | null): Syntax {
  if (/\.json$/i.test(name) || /json/i.test(contentType ?? '')) return 'json';
  if (/\.ya?ml$/i.test(name) || /yaml/i.test(contentType ?? '')) return 'yaml';
  return Buffer.from(body.subarray(0, 64)).toString('utf8').trimStart().startsWith('{') ? 'json' : 'yaml';
}

async function readCapped(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new Error(`the document is ${declared} bytes, more than the ${maxBytes} taken`);
  if (res.body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Uint8Array).byteLength;
    if (total > maxBytes) throw new Error(`the document is more than the ${maxBytes} bytes taken`);
    chunks.push(chunk as Uint8Array);
  }
  return Buffer.concat(chunks);
}

/**
 * Documents kept for reuse, in bytes. Every Service version is a new key, and whoever may annotate Services in a
 * managed namespace decides how many there are and how large (up to maxBytes each): without a budget the kept
 * documents could grow until the control service runs out of memory.
 */
export const CACHE_BYTES = 64 * 1024 * 1024;
const CACHE_ENTRIES = 10_000;

export class SpecSource {
  /** In insertion order, so the first entry is the oldest. */
  private readonly cache = new Map<string, { at: number; outcome: SpecOutcome; bytes: number }>();
  private cacheBytes = 0;

  constructor(private readonly o: SpecSourceOptions) {}

  /** Bytes of the documents kept now (tests). */
  get keptBytes(): number {
    return this.cacheBytes;
  }

  private forget(key: string): void {
    const old = this.cache.get(key);
    if (old === undefined) return;
    this.cacheBytes -= old.bytes;
    this.cache.delete(key);
  }

  private keep(key: string, at: number, outcome: Extract<SpecOutcome, { ok: true }>): void {
    const budget = this.o.maxCacheBytes ?? CACHE_BYTES;
    const bytes = outcome.body.byteLength;
    if (bytes > budget) return;
    for (const oldest of this.cache.keys()) {
      if (this.cacheBytes + bytes <= budget && this.cache.size < CACHE_ENTRIES) break;
      this.forget(oldest);
    }
    this.cache.set(key, { at, outcome, bytes });
    this.cacheBytes += bytes;
  }

  /** The document for `ref`; `version` (the Service's resourceVersion) keys the cache with the ref. */
  async get(ref: SpecRef, version: string): Promise<SpecOutcome> {
    const key = `${version}|${JSON.stringify(ref)}`;
    const now = (this.o.now ?? Date.now)();
    const hit = this.cache.get(key);
    if (hit !== undefined && now - hit.at < this.o.ttlMs) return hit.outcome;
    const outcome = await this.fetchOnce(ref);
    // Only successes are kept: a failure is tried again at the next sync.
    this.forget(key);
    if (outcome.ok) this.keep(key, now, outcome);
    return outcome;
  }

  private async fetchOnce(ref: SpecRef): Promise<SpecOutcome> {
    const where = describeRef(ref);
    try {
      const { body, syntax } = ref.kind === 'configmap' ? await this.fromConfigMap(ref) : await this.fromUrl(ref.url);
      if (body.byteLength === 0) throw new Error('the document is empty');
      return { ok: true, ref: where, body, syntax, sha256: createHash('sha256').update(body).digest('hex') };
    } catch (err) {
      return { ok: false, ref: where, error: errorText(err) };
    }
  }

  private async fromConfigMap(ref: Extract<SpecRef, { kind: 'configmap' }>): Promise<{ body: Uint8Array; syntax: Syntax }> {
    const cm = await this.o.core.readNamespacedConfigMap({ name: ref.name, namespace: ref.namespace });
    const text = cm.data?.[ref.key];
    const binary = cm.binaryData?.[ref.key];
    if (text === undefined && binary === undefined) throw new Error(`ConfigMap ${ref.namespace}/${ref.name} has no key '${ref.key}'`);
    const body = text !== undefined ? Buffer.from(text, 'utf8') : Buffer.from(binary!, 'base64');
    if (body.byteLength > this.o.maxBytes) throw new Error(`the document is ${body.byteLength} bytes, more than the ${this.o.maxBytes} taken`);
    return { body, syntax: syntaxFor(ref.key, body) };
  }

  private async fromUrl(url: string): Promise<{ body: Uint8Array; syntax: Syntax }> {
    const res = await (this.o.fetch ?? fetch)(url, {
      signal: AbortSignal.timeout(this.o.timeoutMs), redirect: 'error',
      headers: { accept: 'application/json, application/yaml;q=0.9, */*;q=0.1' },
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`GET ${url}: HTTP ${res.status}`);
    }
    const body = await readCapped(res, this.o.maxBytes);
    return { body, syntax: syntaxFor(new URL(url).pathname, body, res.headers.get('content-type')) };
  }
}

/** A short, credential-free description of a fetch or Kubernetes API failure. */
export function errorText(err: unknown): string {
  const e = err as { code?: unknown; name?: string; message?: string; cause?: { message?: string; code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  if (typeof e?.code === 'number') return `Kubernetes API: HTTP ${e.code}${e.code === 404 ? ' (not found)' : e.code === 403 ? ' (forbidden: is the namespace managed and the Role applied?)' : ''}`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(err)}${cause !== undefined ? ` (${cause})` : ''}`.slice(0, 500);
}
