// A client for the OCI distribution API, just the calls publishing and verifying need: blob HEAD/GET, monolithic blob
// upload (POST then PUT ?digest=), manifest PUT/GET. Authentication is negotiated on the first 401 from the challenge
// the registry sends (Bearer token exchange or Basic) and the request is retried once.
import { basicAuthorization, fetchBearerToken, parseChallenge, type Credentials } from './auth.js';
import { sha256Digest, type Digest } from './digest.js';
import { RegistryError, networkError } from './errors.js';
import { MEDIA_TYPES, type BlobContent } from './manifest.js';
import { apiHost } from './reference.js';

export interface RegistryClientOptions {
  /** host[:port] as written in the image reference. */
  registry: string;
  repository: string;
  /** Plain HTTP instead of HTTPS (for loopback test registries). */
  insecure?: boolean;
  credentials?: Credentials;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Scope actions requested in a Bearer exchange. */
  actions?: string;
  timeoutMs?: number;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

const MANIFEST_ACCEPT = [MEDIA_TYPES.manifest, MEDIA_TYPES.index, 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

async function registryErrorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = body.errors?.[0];
    if (first !== undefined) return `${first.code ?? 'ERROR'}: ${first.message ?? ''}`.trim();
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200);
}

/** Appends digest=… to an upload Location that may already carry a query (`?` or `&` accordingly). */
export function withDigestParam(location: string, digest: Digest): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

export class RegistryClient {
  readonly registry: string;
  readonly repository: string;
  readonly baseUrl: string;
  private readonly credentials: Credentials | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly actions: string;
  private readonly timeoutMs: number;
  private authorization: string | undefined;
  /** The scheme we authenticated with, for error messages. */
  private authScheme: string | undefined;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.repository = options.repository;
    this.baseUrl = `${options.insecure === true ? 'http' : 'https'}://${apiHost(options.registry)}`;
    this.credentials = options.credentials;
    this.fetchImpl = options.fetch ?? fetch;
    this.actions = options.actions ?? 'pull,push';
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  private get scope(): string {
    return `repository:${this.repository}:${this.actions}`;
  }

  private async send(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<Response> {
    const all = { ...headers };
    // Credentials go to the registry's own origin only, never to an upload Location on another host.
    if (this.authorization !== undefined && new URL(url).origin === new URL(this.baseUrl).origin) all.authorization = this.authorization;
    try {
      return await this.fetchImpl(url, { method, headers: all, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw networkError(this.registry, url, error);
    }
  }

  private async authenticate(response: Response): Promise<void> {
    const header = response.headers.get('www-authenticate');
    const challenge = header === null ? undefined : parseChallenge(header);
    if (challenge === undefined) {
      throw new RegistryError('auth', `registry ${this.registry} answered 401 without a usable WWW-Authenticate challenge`);
    }
    this.authScheme = challenge.scheme;
    if (challenge.scheme === 'bearer') {
      const token = await fetchBearerToken({ registry: this.registry, challenge, scope: this.scope, credentials: this.credentials, fetch: this.fetchImpl });
      this.authorization = `Bearer ${token}`;
    } else if (challenge.scheme === 'basic') {
      if (this.credentials === undefined) {
        throw new RegistryError('auth', `registry ${this.registry} requires authentication (Basic scheme) and no credentials were given (--username with --password-stdin, TOLLGATE_REGISTRY_USERNAME/_PASSWORD, or docker config.json)`);
      }
      this.authorization = basicAuthorization(this.credentials);
    } else {
      throw new RegistryError('auth', `registry ${this.registry} asks for the unsupported '${challenge.scheme}' auth scheme`);
    }
  }

  private rejected(response: Response, what: string): RegistryError {
    const scheme = this.authScheme === undefined ? 'no auth' : `${this.authScheme[0]?.toUpperCase()}${this.authScheme.slice(1)} scheme`;
    const who = this.credentials === undefined ? 'anonymous' : `user '${this.credentials.username}'`;
    return new RegistryError('auth', `authentication to registry ${this.registry} failed (${scheme}): ${what} was refused for ${who} (HTTP ${response.status})`);
  }

  /** One request, authenticating on the first 401 and retrying once. */
  private async request(method: string, pathOrUrl: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Response> {
    const url = new URL(pathOrUrl, this.baseUrl).href;
    let response = await this.send(method, url, headers, body);
    if (response.status === 401 && this.authorization === undefined) {
      await response.body?.cancel();
      await this.authenticate(response);
      response = await this.send(method, url, headers, body);
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw this.rejected(response, `${method} ${new URL(url).pathname}`);
    }
    return response;
  }

  private async fail(response: Response, what: string): Promise<never> {
    throw new RegistryError('protocol', `registry ${this.registry}: ${what} failed with HTTP ${response.status} (${await registryErrorText(response)})`);
  }

  /** GET /v2/: checks the registry speaks the API and settles authentication up front. */
  async ping(): Promise<void> {
    const response = await this.request('GET', '/v2/');
    if (!response.ok) await this.fail(response, 'GET /v2/');
    await response.body?.cancel();
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    const response = await this.request('HEAD', `/v2/${this.repository}/blobs/${digest}`);
    if (response.status !== 404 && !response.ok) await this.fail(response, `HEAD blob ${digest}`);
    await response.body?.cancel();
    return response.status !== 404;
  }

  /** Monolithic upload: POST opens a session, PUT <Location>[?&]digest= sends all bytes and closes it. */
  async uploadBlob(blob: BlobContent): Promise<void> {
    const { digest } = blob.descriptor;
    const started = await this.request('POST', `/v2/${this.repository}/blobs/uploads/`, { 'content-length': '0' });
    const location = started.headers.get('location');
    if (started.status !== 202 || location === null) return this.fail(started, `starting the upload of ${digest}`);
    await started.body?.cancel();
    const target = withDigestParam(new URL(location, this.baseUrl).href, digest);
    const put = await this.request('PUT', target, { 'content-type': 'application/octet-stream' }, blob.bytes);
    if (put.status !== 201) await this.fail(put, `uploading blob ${digest}`);
    await put.body?.cancel();
  }

  /** PUT the exact manifest bytes under `reference` (a tag); returns the digest the registry reports. */
  async putManifest(reference: string, mediaType: string, bytes: Buffer): Promise<Digest> {
    const response = await this.request('PUT', `/v2/${this.repository}/manifests/${reference}`, { 'content-type': mediaType }, bytes);
    if (response.status !== 201) await this.fail(response, `PUT manifest ${reference}`);
    await response.body?.cancel();
    const ours = sha256Digest(bytes);
    const theirs = response.headers.get('docker-content-digest');
    if (theirs !== null && theirs !== ours) {
      throw new RegistryError('protocol', `registry ${this.registry} stored the manifest as ${theirs}, expected ${ours}`);
    }
    return ours;
  }

  async getManifest(reference: string): Promise<FetchedManifest> {
    const response = await this.request('GET', `/v2/${this.repository}/manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    if (!response.ok) await this.fail(response, `GET manifest ${reference}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    return { bytes, mediaType: response.headers.get('content-type') ?? '', digest: sha256Digest(bytes) };
  }

  /** GET a blob and check its bytes hash to the digest asked for. */
  async getBlob(digest: Digest): Promise<Buffer> {
    const response = await this.request('GET', `/v2/${this.repository}/blobs/${digest}`);
    if (!response.ok) await this.fail(response, `GET blob ${digest}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    if (sha256Digest(bytes) !== digest) throw new RegistryError('protocol', `registry ${this.registry} returned blob ${digest} with different content`);
    return bytes;
  }
}
