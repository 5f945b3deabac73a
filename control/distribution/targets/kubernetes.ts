// Server-side apply of each target's object (WasmPlugin, TrafficExtension or EnvoyExtensionPolicy: the client finds
// each kind's API path by discovery) to the Kubernetes API. Server-side apply because a large pluginConfig does not
// fit the 256 KiB last-applied annotation client-side apply needs; force so tollgate owns its fields.
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { DistributionTarget, Rendered } from './target.js';

export const FIELD_MANAGER = 'tollgate';

/** In-cluster service account when running in a pod, else the kubeconfig file (KUBECONFIG or ~/.kube/config). */
export function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath !== undefined) kc.loadFromFile(kubeconfigPath);
  else if (process.env.KUBERNETES_SERVICE_HOST !== undefined) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

export class KubernetesTarget implements DistributionTarget {
  readonly describe = 'kubernetes';
  readonly shared = true;
  private readonly api: KubernetesObjectApi;

  constructor(kc: KubeConfig) {
    this.api = KubernetesObjectApi.makeApiClient(kc);
  }

  async publish({ resource }: Rendered): Promise<void> {
    await this.api.patch(resource as unknown as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  async retract({ resource }: Rendered): Promise<void> {
    try {
      await this.api.delete({ apiVersion: resource.apiVersion, kind: resource.kind, metadata: { name: resource.metadata.name, namespace: resource.metadata.namespace } });
    } catch (err) {
      // Already gone is what we wanted.
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
}
