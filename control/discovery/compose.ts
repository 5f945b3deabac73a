// Making discovery from the settings (app.ts): the running one when TOLLGATE_DISCOVERY is on, and a planner for the
// dry run when only the namespaces are set.
import type { FastifyBaseLogger } from 'fastify';
import { loadKubeConfig } from '../distribution/targets/kubernetes.js';
import { AlwaysLeader } from '../replicas/leader.js';
import type { ControlSettings } from '../settings.js';
import type { Store } from '../store/repository.js';
import { Discovery } from './service.js';

type Settings = Pick<ControlSettings, 'discovery' | 'discoveryNamespaces' | 'discoveryAnnotationPrefix' | 'discoveryAdopt' | 'kubeconfig'>;

function make(store: Store, settings: Settings, log: FastifyBaseLogger, planOnly: boolean): Discovery {
  return new Discovery({
    store, kubeConfig: loadKubeConfig(settings.kubeconfig), namespaces: settings.discoveryNamespaces,
    annotationPrefix: settings.discoveryAnnotationPrefix, adopt: settings.discoveryAdopt, log,
    ...(planOnly ? { leadership: new AlwaysLeader() } : {}),
  });
}

/** Started by the caller (onReady); undefined when discovery is off. */
export function composeDiscovery(store: Store, settings: Settings, log: FastifyBaseLogger): Discovery | undefined {
  return settings.discovery ? make(store, settings, log, false) : undefined;
}

/** A not-started discovery for one dry run (the caller closes it), or undefined without namespaces. */
export function dryRunDiscovery(store: Store, settings: Settings, log: FastifyBaseLogger): Discovery | undefined {
  return settings.discoveryNamespaces.length === 0 ? undefined : make(store, settings, log, true);
}
