// Settings → distribution targets.
import { SettingsError, type ControlSettings } from '../../settings.js';
import { DirTarget } from './dir.js';
import { KubernetesTarget, loadKubeConfig } from './kubernetes.js';
import { LocalTarget } from './local.js';
import type { DistributionTarget } from './target.js';

export function targetsFromSettings(settings: ControlSettings): { targets: DistributionTarget[]; local: LocalTarget | undefined } {
  let local: LocalTarget | undefined;
  const targets = settings.distribution.map((t): DistributionTarget => {
    switch (t.kind) {
      case 'dir': return new DirTarget(t.path);
      case 'kubernetes':
        try {
          return new KubernetesTarget(loadKubeConfig(settings.kubeconfig));
        } catch (err) {
          throw new SettingsError(`TOLLGATE_DISTRIBUTION=kubernetes: cannot load the Kubernetes configuration (KUBECONFIG, in-cluster or ~/.kube/config): ${(err as Error).message}`);
        }
      case 'local':
        local ??= new LocalTarget();
        return local;
    }
  });
  return { targets, local };
}

export function wasmPluginOptions(settings: ControlSettings) {
  return {
    name: settings.wasmPluginName,
    namespace: settings.namespace,
    pluginName: settings.pluginName,
    url: settings.filterUrl,
    sha256: settings.filterSha256,
    failStrategy: settings.failStrategy,
    selector: settings.selector,
    targetRefs: settings.targetRefs,
  };
}

export function usageOptions(settings: ControlSettings, reportToken: string) {
  return {
    cluster: settings.usageCluster,
    authority: settings.usageAuthority,
    intervalMs: settings.usageIntervalMs,
    timeoutMs: settings.usageTimeoutMs,
    reportToken,
  };
}
