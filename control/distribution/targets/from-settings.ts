// Settings → distribution targets.
import { SettingsError, type ControlSettings } from '../../settings.js';
import { DirTarget } from './dir.js';
import { KubernetesTarget, loadKubeConfig } from './kubernetes.js';
import { LocalTarget } from './local.js';
import type { DistributionTarget } from './target.js';
import type { UsageEndpoint } from '../distributor.js';
import type { PluginImage } from '../wasmplugin.js';

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

/** The filter image every target's WasmPlugin runs (placement comes from each target). */
export function pluginImage(settings: ControlSettings): PluginImage {
  return { pluginName: settings.pluginName, url: settings.filterUrl, sha256: settings.filterSha256, failStrategy: settings.failStrategy };
}

/** Where every target's filter reports (its credential comes from the target). */
export function usageEndpoint(settings: ControlSettings): UsageEndpoint {
  return {
    cluster: settings.usageCluster,
    authority: settings.usageAuthority,
    intervalMs: settings.usageIntervalMs,
    timeoutMs: settings.usageTimeoutMs,
  };
}
