// A loopback stand-in for the Kubernetes API server, enough for server-side apply through @kubernetes/client-node:
// discovery of the groups tollgate writes to (Istio extensions, Envoy Gateway), PATCH (stores the object at its
// path), GET and DELETE of that path (404 when absent). Every request is recorded, in order.
import { createServer, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { parse } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';

export interface Recorded { method: string; path: string; query: URLSearchParams; contentType: string | undefined; body: string }

const GROUPS: Record<string, { name: string; singularName: string; kind: string }[]> = {
  '/apis/extensions.istio.io/v1alpha1': [
    { name: 'wasmplugins', singularName: 'wasmplugin', kind: 'WasmPlugin' },
    { name: 'trafficextensions', singularName: 'trafficextension', kind: 'TrafficExtension' },
  ],
  '/apis/gateway.envoyproxy.io/v1alpha1': [
    { name: 'envoyextensionpolicies', singularName: 'envoyextensionpolicy', kind: 'EnvoyExtensionPolicy' },
    { name: 'envoypatchpolicies', singularName: 'envoypatchpolicy', kind: 'EnvoyPatchPolicy' },
  ],
};

export interface FakeKubeApi {
  url: string;
  requests: Recorded[];
  /** What the fake cluster holds now, by API path. */
  objects: Map<string, unknown>;
  /** While set, DELETE answers 403 (a service account without the delete verb). */
  refuseDeletes: boolean;
  kubeConfig(): KubeConfig;
  /** A kubeconfig file's YAML pointing at this server (for TOLLGATE_KUBECONFIG). */
  kubeconfigYaml(): string;
  close(): Promise<void>;
}

export async function fakeKubeApi(): Promise<FakeKubeApi> {
  const requests: Recorded[] = [];
  const objects = new Map<string, unknown>();
  const read = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString();
  };
  const server = createServer((req, res) => {
    void read(req).then((body) => {
      const url = new URL(req.url!, 'http://x');
      requests.push({ method: req.method!, path: url.pathname, query: url.searchParams, contentType: req.headers['content-type'], body });
      res.setHeader('content-type', 'application/json');
      const group = GROUPS[url.pathname];
      if (req.method === 'DELETE' && api.refuseDeletes) {
        res.statusCode = 403;
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403 }));
      } else if (req.method === 'GET' && group !== undefined) {
        const groupVersion = url.pathname.slice('/apis/'.length);
        res.end(JSON.stringify({ kind: 'APIResourceList', groupVersion, resources: group.map((r) => ({ ...r, namespaced: true, verbs: ['get', 'patch', 'delete'] })) }));
      } else if (req.method === 'PATCH') {
        const object = parse(body) as unknown;
        objects.set(url.pathname, object);
        res.end(JSON.stringify(object));
      } else if ((req.method === 'GET' || req.method === 'DELETE') && objects.has(url.pathname)) {
        const object = objects.get(url.pathname);
        if (req.method === 'DELETE') objects.delete(url.pathname);
        res.end(JSON.stringify(req.method === 'DELETE' ? { kind: 'Status', status: 'Success' } : object));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 }));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const config = {
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'fake', token: 'fake-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
    currentContext: 'fake',
  };
  const api: FakeKubeApi = {
    url, requests, objects, refuseDeletes: false,
    kubeConfig: () => {
      const kc = new KubeConfig();
      kc.loadFromOptions(config);
      return kc;
    },
    kubeconfigYaml: () => [
      'apiVersion: v1', 'kind: Config', 'current-context: fake',
      `clusters: [{name: fake, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: fake, user: {token: fake-token}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: fake}}]', '',
    ].join('\n'),
    close: () => new Promise((r) => server.close(() => r())),
  };
  return api;
}
