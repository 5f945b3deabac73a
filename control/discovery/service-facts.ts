// What discovery reads of a Kubernetes Service, and how its annotations are read. Pure: no Kubernetes client here.
import type { V1Service } from '@kubernetes/client-node';

/** The fields of a Service discovery uses. */
export interface ServiceFacts {
  uid: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  annotations: Record<string, string>;
  ports: { name: string | undefined; port: number }[];
  /** spec.type (absent: ClusterIP). */
  type?: string;
}

export function serviceFacts(s: V1Service): ServiceFacts | undefined {
  const m = s.metadata;
  if (m?.uid === undefined || m.name === undefined || m.namespace === undefined) return undefined;
  return {
    uid: m.uid, namespace: m.namespace, name: m.name, resourceVersion: m.resourceVersion ?? '',
    annotations: { ...(m.annotations ?? {}) },
    ports: (s.spec?.ports ?? []).map((p) => ({ name: p.name, port: p.port })),
    ...(s.spec?.type !== undefined ? { type: s.spec.type } : {}),
  };
}

/** The annotations discovery reads, each `<prefix><suffix>` (prefix default `tollgate.dev/`). */
export const ANNOTATIONS = {
  expose: 'expose',
  pathPrefix: 'path-prefix',
  openapi: 'openapi',
  openapiPath: 'openapi-path',
  openapiPort: 'openapi-port',
} as const;

/** Where a Service's OpenAPI document is: a ConfigMap key in its namespace, or an HTTP URL. */
export type SpecRef = { kind: 'configmap'; namespace: string; name: string; key: string } | { kind: 'url'; url: string };

export interface ServiceIntent {
  exposed: boolean;
  /** The path-prefix annotation (undefined: from the document's servers[0], else '/'). */
  pathPrefix: string | undefined;
  spec: SpecRef | undefined;
  /** Why the annotations cannot be used (the Service is skipped with this as its error). */
  problem: string | undefined;
}

const CONFIGMAP = /^configmap:([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/([-._a-zA-Z0-9]+)$/;

/** The cluster DNS names of a Service: the API's hosts. */
export function serviceHosts(s: Pick<ServiceFacts, 'name' | 'namespace'>): string[] {
  return [`${s.name}.${s.namespace}.svc.cluster.local`, `${s.name}.${s.namespace}`, s.name];
}

/**
 * Whether a URL names a Service of namespace `ns` by its cluster DNS name (<svc>.<ns>[.svc[.cluster.local]]): the only
 * URLs discovery fetches, so an annotation cannot make the control service call an arbitrary address.
 */
export function isServiceUrlOf(url: URL, ns: string): boolean {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.username !== '' || url.password !== '') return false;
  const parts = url.hostname.split('.');
  return parts.length >= 2 && parts[1] === ns && ['', 'svc', 'svc.cluster.local'].includes(parts.slice(2).join('.'));
}

/**
 * Why a document URL (already checked by isServiceUrlOf) must not be fetched, or undefined. Its host is only a name that
 * the cluster's DNS resolves: an ExternalName Service is a CNAME to any host (a cloud metadata endpoint, the internet),
 * and a name with no Service behind it can fall through the DNS search path to a public domain (a namespace named like
 * a top-level domain: `docs.com`). So the Service must be one the watch sees in that namespace, and not ExternalName.
 */
export function urlServiceProblem(url: string, namespace: string, services: ReadonlyMap<string, Pick<ServiceFacts, 'type'>>): string | undefined {
  const name = new URL(url).hostname.split('.')[0]!;
  const target = services.get(`${namespace}/${name}`);
  if (target === undefined) return `not fetched: ${url} names Service ${namespace}/${name}, which does not exist`;
  if (target.type === 'ExternalName') return `not fetched: ${url} names Service ${namespace}/${name}, an ExternalName Service (a DNS alias to any host)`;
  return undefined;
}

export function readIntent(s: ServiceFacts, prefix: string): ServiceIntent {
  const a = (suffix: string): string | undefined => s.annotations[`${prefix}${suffix}`];
  const exposed = a(ANNOTATIONS.expose)?.trim().toLowerCase() === 'true';
  const intent: ServiceIntent = { exposed, pathPrefix: a(ANNOTATIONS.pathPrefix)?.trim(), spec: undefined, problem: undefined };
  if (!exposed) return intent;
  const ref = a(ANNOTATIONS.openapi)?.trim();
  const path = a(ANNOTATIONS.openapiPath)?.trim();
  if (ref !== undefined && path !== undefined) return { ...intent, problem: `set at most one of ${prefix}${ANNOTATIONS.openapi} and ${prefix}${ANNOTATIONS.openapiPath}` };
  if (ref !== undefined) {
    const cm = CONFIGMAP.exec(ref);
    if (cm !== null) return { ...intent, spec: { kind: 'configmap', namespace: s.namespace, name: cm[1]!, key: cm[3]! } };
    let url: URL;
    try {
      url = new URL(ref);
    } catch {
      return { ...intent, problem: `${prefix}${ANNOTATIONS.openapi}: expected configmap:<name>/<key> or an http URL of a Service in namespace ${s.namespace}, got '${ref}'` };
    }
    if (!isServiceUrlOf(url, s.namespace)) {
      return { ...intent, problem: `${prefix}${ANNOTATIONS.openapi}: the URL must name a Service of namespace ${s.namespace} (http://<service>.${s.namespace}[.svc.cluster.local][:port]/path)` };
    }
    return { ...intent, spec: { kind: 'url', url: url.toString() } };
  }
  if (path !== undefined) {
    if (!path.startsWith('/') || path.startsWith('//')) return { ...intent, problem: `${prefix}${ANNOTATIONS.openapiPath}: expected a path starting with '/', got '${path}'` };
    const portRaw = a(ANNOTATIONS.openapiPort)?.trim();
    const port = portRaw !== undefined ? Number(portRaw) : (s.ports.find((p) => p.name === 'http') ?? s.ports[0])?.port;
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
      return { ...intent, problem: `${prefix}${ANNOTATIONS.openapiPath}: no usable port (the Service has none; set ${prefix}${ANNOTATIONS.openapiPort})` };
    }
    return { ...intent, spec: { kind: 'url', url: `http://${serviceHosts(s)[0]}:${port}${path}` } };
  }
  return intent;
}

export const describeRef = (r: SpecRef): string => (r.kind === 'configmap' ? `configmap:${r.name}/${r.key}` : r.url);
