// Changes reach every replica through PostgreSQL LISTEN/NOTIFY, not by polling tables: a replica that commits a change
// publishes it to its own feed and sends NOTIFY; every replica LISTENs on a dedicated connection and publishes what it
// hears to its feed, so each one recompiles (its long polls see the new version) and the leader redistributes. A
// lost LISTEN connection is reopened, and a change is assumed on reconnect (one may have been missed meanwhile).
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { ChangeFeed } from '../store/changes.js';

export const CHANGES_CHANNEL = 'tollgate_changes';

export interface NotifyBridgeOptions {
  changes: ChangeFeed;
  /** A fresh connection for LISTEN. */
  connect: () => Promise<pg.Client>;
  /** Runs NOTIFY on any pooled connection. */
  notify: () => Promise<void>;
  log: FastifyBaseLogger;
  reconnectMs?: number;
}

export class NotifyBridge {
  private client: pg.Client | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** Set while relaying a notification, so the local publish it causes is not sent back out. */
  private relaying = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly o: NotifyBridgeOptions) {
    this.unsubscribe = o.changes.subscribe(() => {
      if (this.relaying) return;
      o.notify().catch((err: unknown) => o.log.warn({ err: (err as Error).message }, 'NOTIFY failed; other replicas learn of the change on their next reconnect'));
    });
    void this.listen(false);
  }

  private relay(): void {
    this.relaying = true;
    try {
      this.o.changes.publish();
    } finally {
      this.relaying = false;
    }
  }

  private async listen(reconnect: boolean): Promise<void> {
    if (this.closed) return;
    try {
      const c = await this.o.connect();
      c.on('notification', (m) => { if (m.channel === CHANGES_CHANNEL) this.relay(); });
      c.on('error', () => this.retry(c));
      c.on('end', () => this.retry(c));
      await c.query(`LISTEN ${CHANGES_CHANNEL}`);
      this.client = c;
      if (reconnect) this.relay();
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'LISTEN connection failed; retrying');
      this.retry(undefined);
    }
  }

  private retry(c: pg.Client | undefined): void {
    if (c !== undefined && c !== this.client) return;
    this.client = undefined;
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.listen(true);
    }, this.o.reconnectMs ?? 500);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    if (this.timer !== undefined) clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}
