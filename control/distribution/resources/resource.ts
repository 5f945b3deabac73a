// What every rendered resource kind shares: the object's shape, the options a target renders with, and its YAML.
import { stringify } from 'yaml';
import type { FilterConfig } from '../../../contracts/filter-config.js';
import type { CompanionKind, ResourceKind, TargetRef } from '../../../contracts/resources.js';
import type { FailStrategy } from '../../../contracts/wasmplugin.js';

/** A namespaced Kubernetes object as tollgate renders it (WasmPlugin, TrafficExtension or EnvoyExtensionPolicy). */
export interface RenderedResource {
  apiVersion: string;
  kind: ResourceKind;
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: Record<string, unknown>;
}

/** An object rendered next to the target's own (an EnvoyPatchPolicy adding the control service's cluster). */
export interface CompanionResource {
  apiVersion: string;
  kind: CompanionKind;
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: Record<string, unknown>;
}

/** Anything a sink writes or deletes. */
export type SinkObject = RenderedResource | CompanionResource;

/** Where and how one target's filter runs; every kind maps these onto its own fields (docs/deploy.md). */
export interface ResourceOptions {
  name: string;
  namespace: string;
  pluginName: string;
  url: string;
  sha256: string | undefined;
  failStrategy: FailStrategy;
  selector: Record<string, string> | undefined;
  targetRefs: TargetRef[] | undefined;
  /** A Secret in the object's namespace holding registry credentials (absent: none). */
  imagePullSecret?: string | undefined;
}

export class RenderError extends Error {
  override name = 'RenderError';
}

export type RenderOne<R extends RenderedResource = RenderedResource> = (config: FilterConfig, version: string, o: ResourceOptions) => R;

export function resourceYaml(resource: SinkObject): string {
  // Keys stay as rendered; lineWidth 0 keeps long digests on one line.
  return stringify(resource, { lineWidth: 0 });
}
