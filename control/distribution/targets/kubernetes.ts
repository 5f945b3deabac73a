// Server-side apply of each target's object (WasmPlugin, TrafficExtension or EnvoyExtensionPolicy, and its companion
// EnvoyPatchPolicies: the client finds each kind's API path by discovery) to the Kubernetes API. Server-side apply
// because a large pluginConfig does not fit the 256 KiB last-applied annotation client-side apply needs; force so
// tollgate owns its fields.
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { SinkObject } from '../resources/resource.js';
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

  /** Companions first: the cluster the filter calls exists before the filter that calls it. */
  async publish({ resource, companions = [] }: Rendered): Promise<void> {
    for (const object of [...companions, resource]) {
      await this.api.patch(object as unknown as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    }
  }

  /** The target's object first, then its companions (the filter goes before the cluster it calls). */
  async retract({ resource, companions = [] }: Rendered): Promise<void> {
    await this.withdraw([resource, ...companions]);
  }

  async withdraw(objects: readonly SinkObject[]): Promise<void> {
    for (const o of objects) {
      try {
        await this.api.delete({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace } });
      } catch (err) {
        // Already gone is what we wanted.
        if ((err as { code?: number }).code !== 404) throw err;
      }
    }
  }
}
