// Durability without blocking the event loop. The connection runs with synchronous = NORMAL, so a commit writes its
// WAL frames but does not fsync them on the (only) JavaScript thread; callers then await `flush()`, which fdatasyncs
// the WAL file on libuv's thread pool before any 2xx goes out. Commits that land while an fsync is running share the
// next one (group commit). SQLite itself, with NORMAL in WAL mode, syncs the WAL before each checkpoint and the
// database file after it, so frames are durable whether they are still in the WAL or already checkpointed.
// Hand-written because no library offers group-committed fsync for better-sqlite3.
import { open, type FileHandle } from 'node:fs/promises';

export class WalSync {
  private handle: Promise<FileHandle> | undefined;
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly walPath: string | undefined) {}

  /** Resolves once everything committed before the call is on stable storage. */
  flush(): Promise<void> {
    if (this.walPath === undefined) return Promise.resolve();
    if (this.running === null) {
      this.running = this.sync().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    // A sync is in flight but may have started before our commit: wait for it, then one more that covers us.
    this.queued ??= this.running.then(() => {
      this.queued = null;
      return this.flush();
    }, () => {
      this.queued = null;
      return this.flush();
    });
    return this.queued;
  }

  private async sync(): Promise<void> {
    this.handle ??= open(this.walPath!, 'r');
    await (await this.handle).datasync();
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) await (await handle).close();
  }
}
