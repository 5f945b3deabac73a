// GitOps: each target's object (and its companions) as YAML in a directory, one file per object
// (<kind-lowercase>-<name>.yaml), replaced atomically (write a temp file, fsync, rename) so a reader or a crash never
// sees half a file.
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { resourceFileName } from '../../../contracts/resources.js';
import { resourceYaml, type SinkObject } from '../resources/resource.js';
import type { DistributionTarget, Rendered } from './target.js';

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

  /** wasmplugin-<name>.yaml, trafficextension-<name>.yaml, envoyextensionpolicy-<name>.yaml, envoypatchpolicy-<name>.yaml. */
  static fileName(resource: Pick<SinkObject, 'kind' | 'metadata'>): string {
    return resourceFileName(resource.kind, resource.metadata.name);
  }

  async publish({ resource, companions = [] }: Rendered): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const object of [...companions, resource]) await writeFileAtomic(join(this.dir, DirTarget.fileName(object)), resourceYaml(object));
  }

  async retract({ resource, companions = [] }: Rendered): Promise<void> {
    await this.withdraw([resource, ...companions]);
  }

  async withdraw(objects: readonly SinkObject[]): Promise<void> {
    for (const o of objects) await rm(join(this.dir, DirTarget.fileName(o)), { force: true });
  }
}
