// Test helper: every Kubernetes object in manifests/*.yaml, parsed with the yaml package (multi-document files).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const manifestsDir = new URL('../../manifests/', import.meta.url).pathname;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface LoadedObject {
  file: string;
  object: K8sObject;
}

export function manifestFiles(): string[] {
  return readdirSync(manifestsDir).filter((f) => /\.ya?ml$/.test(f)).sort();
}

export function parseFile(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(join(manifestsDir, file), 'utf8'));
  return docs.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  }).filter((o) => o !== null);
}

/** All objects except the kustomization itself. */
export function loadObjects(): LoadedObject[] {
  return manifestFiles()
    .filter((f) => f !== 'kustomization.yaml')
    .flatMap((file) => parseFile(file).map((object) => ({ file, object: object as K8sObject })));
}

export function findOne(objects: LoadedObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.object.kind === kind && (name === undefined || o.object.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return (found[0] as LoadedObject).object;
}
