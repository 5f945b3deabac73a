// OCI image layout directory (oci-layout, index.json, blobs/sha256/<hex>) for air-gapped copies: `skopeo copy
// oci:DIR:TAG docker://…` or `oras cp` can push it from inside the air gap.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { digestHex, type Digest } from './digest.js';
import { MEDIA_TYPES, type Descriptor, type WasmImage } from './manifest.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

interface LayoutIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}

function writeBlob(dir: string, digest: Digest, bytes: Buffer): void {
  writeFileSync(join(dir, 'blobs', 'sha256', digestHex(digest)), bytes);
}

function readIndex(path: string): LayoutIndex {
  if (!existsSync(path)) return { schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [] };
  const index = JSON.parse(readFileSync(path, 'utf8')) as LayoutIndex;
  if (!Array.isArray(index.manifests)) throw new Error(`${path} is not an OCI image index`);
  return index;
}

/** Pure: the index with `descriptor` as the one entry named `refName` (an existing entry of that name is replaced). */
export function indexWithEntry(index: LayoutIndex, descriptor: Descriptor, refName: string): LayoutIndex {
  const others = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== refName);
  return { ...index, manifests: [...others, descriptor] };
}

/** Writes (or adds to) an OCI image layout at `dir`, naming the image `refName` (usually the tag). */
export function writeOciLayout(dir: string, image: WasmImage, refName: string): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const blob of image.blobs) writeBlob(dir, blob.descriptor.digest, blob.bytes);
  writeBlob(dir, image.manifestDigest, image.manifest);
  const descriptor: Descriptor = {
    mediaType: image.mediaType,
    digest: image.manifestDigest,
    size: image.manifest.length,
    annotations: { [REF_NAME]: refName },
  };
  const indexPath = join(dir, 'index.json');
  writeFileSync(indexPath, JSON.stringify(indexWithEntry(readIndex(indexPath), descriptor, refName), null, 2) + '\n');
}
