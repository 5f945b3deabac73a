// Pushing a built image: blobs first (skipping those the registry already has), then the manifest under the tag.
import type { Digest } from './digest.js';
import type { WasmImage } from './manifest.js';
import type { RegistryClient } from './registry.js';

export interface PushResult {
  manifestDigest: Digest;
  uploaded: Digest[];
  skipped: Digest[];
}

export async function pushImage(client: RegistryClient, image: WasmImage, tag: string): Promise<PushResult> {
  await client.ping();
  const uploaded: Digest[] = [];
  const skipped: Digest[] = [];
  for (const blob of image.blobs) {
    const { digest } = blob.descriptor;
    if (await client.hasBlob(digest)) {
      skipped.push(digest);
    } else {
      await client.uploadBlob(blob);
      uploaded.push(digest);
    }
  }
  const manifestDigest = await client.putManifest(tag, image.mediaType, image.manifest);
  return { manifestDigest, uploaded, skipped };
}
