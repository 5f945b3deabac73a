// The informer adapter: one @kubernetes/client-node ListWatch per managed namespace (a Role per namespace grants
// list/watch there and nowhere else, so there is no cluster-wide watch). What the client does, read from its source
// (dist/cache.js, dist/watch.js, v1.4) and relied on here:
// - list, then watch from the list's resourceVersion; every event (BOOKMARK included) moves the resourceVersion on;
// - the watch ending cleanly (the server's timeout, a proxy closing it) → watch again from the last resourceVersion;
// - HTTP 410 on the watch, or an ERROR event with code 410 followed by the end of the stream → list again (objects
//   missing from the new list are reported deleted);
// - any other failure (connection reset, 5xx, list refused) → the 'error' callback and the informer STOPS: restarting
//   it is ours (start() again keeps the resourceVersion, so it resumes where it was; backoff below);
// - it never asks for bookmarks itself: the Watch given to it adds allowWatchBookmarks=true to each watch request.
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import { errorText } from './spec-source.js';

export interface NamespaceWatchStatus {
  namespace: string;
  /** A list has completed at least once (before that, a missing Service must not be read as a deleted one). */
  synced: boolean;
  resourceVersion: string;
  lists: number;
  restarts: number;
  lastError: string | null;
  lastErrorAt: number | null;
}

export interface ServiceWatcherOptions {
  kubeConfig: KubeConfig;
  namespaces: readonly string[];
  /** Any add, update or delete, and the end of each list. */
  onChange: () => void;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** First restart delay after a failure; doubles up to maxRetryMs, back to retryMs after a good list. */
  retryMs?: number;
  maxRetryMs?: number;
}

/** Passes every watch through with allowWatchBookmarks=true (ListWatch hands the query it builds to watch()). */
class BookmarkWatch extends Watch {
  override watch(path: string, queryParams: Record<string, unknown>, callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void): Promise<AbortController> {
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, done);
  }
}

interface Entry { informer: ListWatch<V1Service>; status: NamespaceWatchStatus; delay: number; timer: NodeJS.Timeout | undefined }

export class ServiceWatcher {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(private readonly o: ServiceWatcherOptions) {
    const core = o.kubeConfig.makeApiClient(CoreV1Api);
    const watch = new BookmarkWatch(o.kubeConfig);
    for (const namespace of o.namespaces) {
      const status: NamespaceWatchStatus = { namespace, synced: false, resourceVersion: '', lists: 0, restarts: 0, lastError: null, lastErrorAt: null };
      const list = async (): Promise<Awaited<ReturnType<CoreV1Api['listNamespacedService']>>> => {
        const got = await core.listNamespacedService({ namespace });
        // The informer applies the list right after this resolves: report it once that is done.
        setImmediate(() => {
          status.synced = true;
          status.lists++;
          entry.delay = o.retryMs ?? 1000;
          o.onChange();
        });
        return got;
      };
      const informer = new ListWatch<V1Service>(`/api/v1/namespaces/${namespace}/services`, watch, list, false);
      const entry: Entry = { informer, status, delay: o.retryMs ?? 1000, timer: undefined };
      for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, () => o.onChange());
      informer.on('error', (err: unknown) => this.failed(entry, err));
      this.entries.set(namespace, entry);
    }
  }

  start(): void {
    // start() rejects only when the watch cannot even be set up (e.g. no current cluster): a failure like any other.
    for (const e of this.entries.values()) e.informer.start().catch((err: unknown) => this.failed(e, err));
  }

  private failed(entry: Entry, err: unknown): void {
    const s = entry.status;
    s.lastError = errorText(err);
    s.lastErrorAt = Date.now();
    if (this.stopped) return;
    this.o.log.warn({ namespace: s.namespace, err: s.lastError, retryInMs: entry.delay }, 'discovery: watching Services failed; resuming');
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.stopped) return;
      s.restarts++;
      entry.informer.start().catch((err: unknown) => this.failed(entry, err));
    }, entry.delay);
    entry.timer.unref();
    entry.delay = Math.min(entry.delay * 2, this.o.maxRetryMs ?? 30_000);
  }

  /** Every namespace has been listed at least once. */
  get synced(): boolean {
    return [...this.entries.values()].every((e) => e.status.synced);
  }

  services(): V1Service[] {
    return [...this.entries.values()].flatMap((e) => [...e.informer.list()]);
  }

  statuses(): NamespaceWatchStatus[] {
    return [...this.entries.values()].map((e) => ({ ...e.status, resourceVersion: e.informer.latestResourceVersion() }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries.values()) {
      if (e.timer !== undefined) clearTimeout(e.timer);
      await e.informer.stop();
    }
  }
}

/** One list of each namespace, no watch: the dry run when discovery is not running. */
export async function listServicesOnce(kubeConfig: KubeConfig, namespaces: readonly string[]): Promise<V1Service[]> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const lists = await Promise.all(namespaces.map((namespace) => core.listNamespacedService({ namespace })));
  return lists.flatMap((l) => l.items);
}
