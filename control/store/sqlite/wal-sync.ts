// Durability without blocking the event loop. The connection runs with synchronous = NORMAL, so a commit writes its
// WAL frames but does not fsync them on the (only) JavaScript thread; callers then await `flush()`, which fdatasyncs
// the WAL file on libuv's thread pool before any 2xx goes out. Commits that land while an fsync is running share the
// next one (group commit). SQLite itself, with NORMAL in WAL mode, syncs the WAL before each checkpoint and the
// database file after it, so frames are durable whether they are still in the WAL or already checkpointed.
// Hand-written because no library offers group-committed fsync for better-sqlite3.
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Runs `sync` so that every `flush()` is covered by a sync that started after the call: a call while none runs starts
 * one; calls while one runs share a single follow-up.
 */
export class GroupCommit {
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly sync: () => Promise<void>) {}

  flush(): Promise<void> {
    if (this.running === null) {
      this.running = this.sync().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    // The running sync may have started before the caller's commit: wait for it, then one more that covers it.
    const again = (): Promise<void> => {
      this.queued = null;
      return this.flush();
    };
    this.queued ??= this.running.then(again, again);
    return this.queued;
  }
}

/** fdatasync of the database's WAL file, group-committed. */
export class WalSync {
  private handle: Promise<FileHandle> | undefined;
  private readonly group: GroupCommit;

  constructor(private readonly walPath: string | undefined) {
    this.group = new GroupCommit(async () => {
      this.handle ??= open(this.walPath!, 'r');
      await (await this.handle).datasync();
    });
  }

  /** Resolves once everything committed before the call is on stable storage. */
  flush(): Promise<void> {
    return this.walPath === undefined ? Promise.resolve() : this.group.flush();
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) await (await handle).close();
  }
}
