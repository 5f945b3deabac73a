// GitOps: the WasmPlugin as YAML in a directory, replaced atomically (write a temp file, fsync, rename) so a
// reader or a crash never sees half a file.
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { wasmPluginYaml, type WasmPlugin } from '../wasmplugin.js';
import type { DistributionTarget } from './target.js';

export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

export class DirTarget implements DistributionTarget {
  readonly describe: string;
  readonly shared = true;

  constructor(private readonly dir: string) {
    this.describe = `dir:${dir}`;
  }

  static fileName(plugin: WasmPlugin): string {
    return `wasmplugin-${plugin.metadata.name}.yaml`;
  }

  async publish(plugin: WasmPlugin): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(join(this.dir, DirTarget.fileName(plugin)), wasmPluginYaml(plugin));
  }

  async retract(plugin: WasmPlugin): Promise<void> {
    await rm(join(this.dir, DirTarget.fileName(plugin)), { force: true });
  }
}
