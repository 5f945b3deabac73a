// A loopback Kubernetes API server that speaks list and watch for Services, and GET for ConfigMaps, the way the real
// one does (reusable; tests/control/fake-kube-api.ts is the server-side-apply one):
// - GET /api/v1/namespaces/<ns>/services → a ServiceList with metadata.resourceVersion (the store's current one);
// - ?watch=true&resourceVersion=N → 200, then JSON lines: every logged event of the namespace after N, then live ones
//   (ADDED / MODIFIED / DELETED, BOOKMARK when the watch asked with allowWatchBookmarks=true);
// - a resourceVersion older than the compaction point → 410 Gone, as HTTP 410 (`goneStyle: 'http'`) or, as the real
//   API server does for a watch it has already begun, an ERROR event carrying a Status with code 410 and then the end of
//   the stream (`goneStyle: 'event'`);
// - dropWatches() cuts every open watch without a clean end (a reset connection); endWatches() ends them cleanly
//   (the server's own watch timeout);
// - namespaces outside `namespaces` answer 403 (a Role per managed namespace: nothing else is readable).
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface FakeService {
  name: string;
  annotations?: Record<string, string>;
  ports?: { name?: string; port: number }[];
  /** spec.type and spec.externalName (absent: a ClusterIP Service). */
  type?: 'ClusterIP' | 'ExternalName';
  externalName?: string;
}

interface StoredService {
  apiVersion: 'v1'; kind: 'Service';
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; annotations?: Record<string, string> };
  spec: { ports: { name?: string; port: number }[]; type?: string; externalName?: string };
}
interface LoggedEvent { rv: number; namespace: string; type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: StoredService }
interface OpenWatch { namespace: string; res: ServerResponse; socket: Socket; bookmarks: boolean }

export interface WatchRequest { namespace: string; resourceVersion: string; allowWatchBookmarks: boolean }

export interface FakeKubeWatch {
  url: string;
  kubeConfig(): KubeConfig;
  /** Creates or replaces a Service (ADDED or MODIFIED with a new resourceVersion); returns it as stored. */
  apply(namespace: string, svc: FakeService): StoredService;
  /** Deletes a Service (DELETED); false when there was none. */
  remove(namespace: string, name: string): boolean;
  setConfigMap(namespace: string, name: string, data: Record<string, string>): void;
  deleteConfigMap(namespace: string, name: string): void;
  /** Sends a BOOKMARK at the current resourceVersion to each open watch that asked for bookmarks. */
  bookmark(): number;
  /** Forgets the event log: a watch from any resourceVersion before now gets 410 Gone. */
  compact(): void;
  goneStyle: 'http' | 'event';
  /** Cuts every open watch abruptly (socket destroyed). */
  dropWatches(): number;
  /** Ends every open watch cleanly. */
  endWatches(): number;
  /** Fails the next `n` list requests with HTTP 500. */
  failLists(n: number): void;
  readonly resourceVersion: number;
  readonly openWatches: number;
  lists: string[];
  watches: WatchRequest[];
  configMapGets: string[];
  close(): Promise<void>;
}

export async function fakeKubeWatch(options: { namespaces: string[] }): Promise<FakeKubeWatch> {
  const allowed = new Set(options.namespaces);
  let rv = 100;
  let compactedBelow = 0;
  let failLists = 0;
  const services = new Map<string, StoredService>();
  const configMaps = new Map<string, Record<string, string>>();
  const log: LoggedEvent[] = [];
  const open = new Set<OpenWatch>();
  const lists: string[] = [];
  const watches: WatchRequest[] = [];
  const configMapGets: string[] = [];
  const sockets = new Set<Socket>();

  const status = (res: ServerResponse, code: number, reason: string, message: string): void => {
    res.statusCode = code;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  };
  const send = (w: OpenWatch, type: string, object: unknown): void => { w.res.write(`${JSON.stringify({ type, object })}\n`); };
  const publish = (e: LoggedEvent): void => {
    log.push(e);
    for (const w of open) if (w.namespace === e.namespace) send(w, e.type, e.object);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/(services|configmaps)(?:\/([^/]+))?$/.exec(url.pathname);
    if (req.method !== 'GET' || m === null) return status(res, 404, 'NotFound', `no route ${req.method} ${url.pathname}`);
    const [, ns, resource, name] = m as unknown as [string, string, string, string | undefined];
    if (!allowed.has(ns)) return status(res, 403, 'Forbidden', `${resource} is forbidden in namespace ${ns}`);
    if (resource === 'configmaps') {
      if (name === undefined) return status(res, 403, 'Forbidden', 'list configmaps is forbidden (get only)');
      configMapGets.push(`${ns}/${name}`);
      const data = configMaps.get(`${ns}/${name}`);
      if (data === undefined) return status(res, 404, 'NotFound', `configmaps "${name}" not found`);
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, uid: `cm-${ns}-${name}` }, data }));
    }
    if (name !== undefined) return status(res, 403, 'Forbidden', 'get services is not granted (list and watch only)');
    const watch = url.searchParams.get('watch');
    if (watch !== 'true' && watch !== '1') {
      lists.push(ns);
      if (failLists > 0) {
        failLists--;
        return status(res, 500, 'InternalError', 'list failed (injected)');
      }
      res.setHeader('content-type', 'application/json');
      const items = [...services.values()].filter((s) => s.metadata.namespace === ns);
      return res.end(JSON.stringify({ apiVersion: 'v1', kind: 'ServiceList', metadata: { resourceVersion: String(rv) }, items }));
    }
    const from = url.searchParams.get('resourceVersion') ?? '';
    const bookmarks = url.searchParams.get('allowWatchBookmarks') === 'true';
    watches.push({ namespace: ns, resourceVersion: from, allowWatchBookmarks: bookmarks });
    const since = from === '' || from === '0' ? rv : Number(from);
    const gone = since < compactedBelow;
    if (gone && fake.goneStyle === 'http') return status(res, 410, 'Expired', `too old resource version: ${since} (${compactedBelow})`);
    res.statusCode = 200;
    res.setHeader('content-type', 'application/json');
    res.setHeader('transfer-encoding', 'chunked');
    res.flushHeaders();
    const w: OpenWatch = { namespace: ns, res, socket: req.socket, bookmarks };
    if (gone) {
      send(w, 'ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${since} (${compactedBelow})`, reason: 'Expired', code: 410 });
      return res.end();
    }
    for (const e of log) if (e.namespace === ns && e.rv > since) send(w, e.type, e.object);
    open.add(w);
    res.on('close', () => open.delete(w));
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const fake: FakeKubeWatch = {
    url,
    goneStyle: 'http',
    lists, watches, configMapGets,
    get resourceVersion() { return rv; },
    get openWatches() { return open.size; },
    kubeConfig: () => {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: url, skipTLSVerify: true }], users: [{ name: 'fake', token: 'fake-token' }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }], currentContext: 'fake',
      });
      return kc;
    },
    apply(namespace, svc) {
      const key = `${namespace}/${svc.name}`;
      const before = services.get(key);
      rv++;
      const stored: StoredService = {
        apiVersion: 'v1', kind: 'Service',
        metadata: { name: svc.name, namespace, uid: before?.metadata.uid ?? randomUUID(), resourceVersion: String(rv), ...(svc.annotations !== undefined ? { annotations: { ...svc.annotations } } : {}) },
        spec: {
          ports: svc.ports ?? [{ name: 'http', port: 8080 }],
          ...(svc.type !== undefined ? { type: svc.type } : {}), ...(svc.externalName !== undefined ? { externalName: svc.externalName } : {}),
        },
      };
      services.set(key, stored);
      publish({ rv, namespace, type: before === undefined ? 'ADDED' : 'MODIFIED', object: stored });
      return stored;
    },
    remove(namespace, name) {
      const key = `${namespace}/${name}`;
      const before = services.get(key);
      if (before === undefined) return false;
      services.delete(key);
      rv++;
      publish({ rv, namespace, type: 'DELETED', object: { ...before, metadata: { ...before.metadata, resourceVersion: String(rv) } } });
      return true;
    },
    setConfigMap(namespace, name, data) { configMaps.set(`${namespace}/${name}`, { ...data }); },
    deleteConfigMap(namespace, name) { configMaps.delete(`${namespace}/${name}`); },
    bookmark() {
      let n = 0;
      for (const w of open) {
        if (!w.bookmarks) continue;
        send(w, 'BOOKMARK', { kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } });
        n++;
      }
      return n;
    },
    compact() {
      log.length = 0;
      compactedBelow = rv;
    },
    dropWatches() {
      const n = open.size;
      for (const w of [...open]) w.socket.destroy();
      open.clear();
      return n;
    },
    endWatches() {
      const n = open.size;
      for (const w of [...open]) w.res.end();
      open.clear();
      return n;
    },
    failLists(n) { failLists = n; },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return fake;
}
