// Content addressing for OCI blobs and manifests: `sha256:<64 lowercase hex>`.
import { createHash } from 'node:crypto';

export type Digest = `sha256:${string}`;

export function sha256Digest(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The hex part, which is what a WasmPlugin's `sha256` field wants for an oci:// url. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export function isDigest(value: string): value is Digest {
  return /^sha256:[a-f0-9]{64}$/.test(value);
}
