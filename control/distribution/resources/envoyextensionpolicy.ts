// Envoy Gateway's EnvoyExtensionPolicy (gateway.envoyproxy.io/v1alpha1) with one Wasm extension. The EG controller
// fetches the module (OCI image or HTTP) and serves it to Envoy itself, so the registry must be reachable from the
// controller. `config` reaches the filter as the API server's raw JSON text (integers stay integers).
import type { FilterConfig } from '../../../contracts/filter-config.js';
import { ENVOYEXTENSIONPOLICY_API_VERSION } from '../../../contracts/resources.js';
import { VERSION_ANNOTATION } from '../../../contracts/wasmplugin.js';
import { MANAGED_LABELS } from '../wasmplugin.js';
import { RenderError, type RenderedResource, type ResourceOptions } from './resource.js';

export interface EnvoyExtensionPolicy extends RenderedResource {
  kind: 'EnvoyExtensionPolicy';
  spec: Record<string, unknown> & { wasm: (Record<string, unknown> & { config: FilterConfig })[] };
}

/**
 * The module's source: `oci://…` (or a bare registry/repo:tag) → Image with the url minus the scheme and sha256 =
 * the manifest digest (what TOLLGATE_FILTER_SHA256 pins for OCI, as in the WasmPlugin); http(s) → HTTP with sha256 =
 * the module's own digest (its meaning for http URLs in the WasmPlugin too). file:// exists only on a proxy's disk,
 * which the EG controller cannot read: refused.
 */
export function eepCode(url: string, sha256: string | undefined, pullSecret: string | undefined): Record<string, unknown> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(url)?.[1];
  if (scheme === 'http' || scheme === 'https') {
    return { type: 'HTTP', http: { url, ...(sha256 !== undefined ? { sha256 } : {}) } };
  }
  if (scheme !== undefined && scheme !== 'oci') {
    throw new RenderError(`filter url ${url}: Envoy Gateway fetches the module in its controller; give an oci:// image or an http(s) URL`);
  }
  const image = url.replace(/^oci:\/\//, '');
  return {
    type: 'Image',
    image: {
      url: image,
      ...(sha256 !== undefined ? { sha256 } : {}),
      ...(pullSecret !== undefined ? { pullSecretRef: { group: '', kind: 'Secret', name: pullSecret } } : {}),
    },
    // Used by EG only without a sha256; with one, the digest decides.
    pullPolicy: 'IfNotPresent',
  };
}

export function renderEnvoyExtensionPolicy(config: FilterConfig, version: string, o: ResourceOptions): EnvoyExtensionPolicy {
  if (o.targetRefs === undefined || o.selector !== undefined) {
    throw new RenderError('an EnvoyExtensionPolicy attaches by targetRefs only');
  }
  return {
    apiVersion: ENVOYEXTENSIONPOLICY_API_VERSION,
    kind: 'EnvoyExtensionPolicy',
    metadata: { name: o.name, namespace: o.namespace, labels: { ...MANAGED_LABELS }, annotations: { [VERSION_ANNOTATION]: version } },
    spec: {
      targetRefs: o.targetRefs.map(({ group, kind, name, sectionName }) => ({ group, kind, name, ...(sectionName !== undefined ? { sectionName } : {}) })),
      wasm: [{
        name: o.pluginName,
        rootID: o.pluginName,
        code: eepCode(o.url, o.sha256, o.imagePullSecret),
        // FAIL_OPEN bypasses the filter on a VM failure; FAIL_CLOSE and FAIL_RELOAD (no EG equivalent) keep it
        // closed: a route whose module cannot be loaded answers 500 rather than skipping the key check.
        failOpen: o.failStrategy === 'FAIL_OPEN',
        config,
      }],
    },
  };
}
