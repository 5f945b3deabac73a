// Fetches a plugin module the way istio-agent does for the sidecar, limited to what a local mesh needs: file:// URLs,
// sha256 of the bytes checked when given (stricter than Istio, which skips the check for files: a stale local build
// should be refused, not run), and the wasm magic number checked before anything is instantiated.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export class ModuleFetchError extends Error {
  override name = 'ModuleFetchError';
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function verifyModule(bytes: Uint8Array, sha256: string | undefined, url: string): Uint8Array {
  if (bytes.length < 8 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) throw new ModuleFetchError(`${url} is not a wasm module (bad magic number)`);
  if (sha256 !== undefined) {
    const actual = sha256Hex(bytes);
    if (actual !== sha256) throw new ModuleFetchError(`${url}: sha256 mismatch (want ${sha256}, got ${actual})`);
  }
  return bytes;
}

export async function fetchModule(url: string, sha256?: string): Promise<Uint8Array> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ModuleFetchError(`bad module url '${url}'`);
  }
  if (parsed.protocol !== 'file:') throw new ModuleFetchError(`${parsed.protocol}// modules are not fetched by the local sidecar (use file://)`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(fileURLToPath(parsed)));
  } catch (err) {
    throw new ModuleFetchError(`cannot read ${url}: ${(err as Error).message}`);
  }
  return verifyModule(bytes, sha256, url);
}
