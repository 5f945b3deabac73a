// Pure construction of the two image shapes istio-agent accepts for a Wasm module (see docs/deploy.md):
// - artifact: the solo-io Wasm artifact, exactly two layers (runtime config JSON, raw wasm); the config blob is also
//   the manifest's config. istio-agent rejects a single-layer artifact.
// - compat: an ordinary OCI image whose last layer is a gzip tar holding `plugin.wasm`.
// Everything here is deterministic: the same wasm and options give the same manifest digest.
import { gzipSync } from 'node:zlib';
import { sha256Digest, type Digest } from './digest.js';
import { singleFileTar } from './tar.js';

export const MEDIA_TYPES = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  wasmConfig: 'application/vnd.module.wasm.config.v1+json',
  wasmLayer: 'application/vnd.module.wasm.content.layer.v1+wasm',
  imageConfig: 'application/vnd.oci.image.config.v1+json',
  tarGzipLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export const TITLE_ANNOTATION = 'org.opencontainers.image.title';
export const WASM_FILE_NAME = 'plugin.wasm';
export const RUNTIME_CONFIG_FILE_NAME = 'runtime-config.json';

export type ImageFormat = 'artifact' | 'compat';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
}

export interface BlobContent {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface WasmImage {
  format: ImageFormat;
  /** The exact manifest bytes to upload; the digest is over these bytes. */
  manifest: Buffer;
  manifestDigest: Digest;
  mediaType: typeof MEDIA_TYPES.manifest;
  /** Every blob the manifest references, config first, without duplicates. */
  blobs: BlobContent[];
}

export interface ImageOptions {
  format: ImageFormat;
  /** Proxy-Wasm root ids the module serves; the WasmPlugin's pluginName must be one of them. */
  rootIds: string[];
}

const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/** istio-agent refuses a module that does not start with `\0asm`; fail here rather than in every sidecar. */
export function assertWasmModule(bytes: Uint8Array): void {
  if (bytes.length < WASM_MAGIC.length || !WASM_MAGIC.equals(Buffer.from(bytes.subarray(0, WASM_MAGIC.length)))) {
    throw new Error('not a WebAssembly binary module (expected the \\0asm magic and version 1)');
  }
}

function blob(mediaType: string, bytes: Buffer, annotations?: Record<string, string>): BlobContent {
  const descriptor: Descriptor = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
  if (annotations !== undefined) descriptor.annotations = annotations;
  return { descriptor, bytes };
}

/** The runtime config of the solo-io Wasm artifact spec. We implement Proxy-Wasm ABI 0.2.1. */
export function runtimeConfig(rootIds: string[]): Buffer {
  return Buffer.from(JSON.stringify({ type: 'envoy_proxy', abiVersions: ['v0.2.1'], config: { rootIds } }));
}

/** gzip with a fixed header: zlib writes mtime 0 already, but its OS byte differs by platform, so pin it to Unix. */
export function deterministicGzip(bytes: Buffer): Buffer {
  const gz = gzipSync(bytes, { level: 9 });
  gz[9] = 3;
  return gz;
}

function manifestBytes(config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Buffer {
  const manifest: Record<string, unknown> = { schemaVersion: 2, mediaType: MEDIA_TYPES.manifest, config, layers };
  if (annotations !== undefined) manifest.annotations = annotations;
  return Buffer.from(JSON.stringify(manifest));
}

function image(format: ImageFormat, config: BlobContent, layers: BlobContent[], annotations?: Record<string, string>): WasmImage {
  const manifest = manifestBytes(config.descriptor, layers.map((l) => l.descriptor), annotations);
  const blobs: BlobContent[] = [];
  for (const b of [config, ...layers]) {
    if (!blobs.some((seen) => seen.descriptor.digest === b.descriptor.digest)) blobs.push(b);
  }
  return { format, manifest, manifestDigest: sha256Digest(manifest), mediaType: MEDIA_TYPES.manifest, blobs };
}

export function buildArtifactImage(wasm: Buffer, rootIds: string[]): WasmImage {
  const config = blob(MEDIA_TYPES.wasmConfig, runtimeConfig(rootIds), { [TITLE_ANNOTATION]: RUNTIME_CONFIG_FILE_NAME });
  const module = blob(MEDIA_TYPES.wasmLayer, wasm, { [TITLE_ANNOTATION]: WASM_FILE_NAME });
  return image('artifact', config, [config, module]);
}

export function buildCompatImage(wasm: Buffer): WasmImage {
  const tar = singleFileTar(WASM_FILE_NAME, wasm);
  const layer = blob(MEDIA_TYPES.tarGzipLayer, deterministicGzip(tar));
  // A minimal but valid OCI image config; diff_ids name the uncompressed layer.
  const imageConfig = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] } };
  const config = blob(MEDIA_TYPES.imageConfig, Buffer.from(JSON.stringify(imageConfig)));
  return image('compat', config, [layer], { 'module.wasm.image/variant': 'compat' });
}

export function buildWasmImage(wasm: Buffer, options: ImageOptions): WasmImage {
  assertWasmModule(wasm);
  return options.format === 'artifact' ? buildArtifactImage(wasm, options.rootIds) : buildCompatImage(wasm);
}
