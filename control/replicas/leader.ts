// Exactly one replica publishes to the shared sinks (the Kubernetes API, a GitOps directory) at a time. Leadership is a
// PostgreSQL session advisory lock held on a dedicated connection: PostgreSQL releases it the moment that session
// ends (a replica killed with SIGKILL closes its socket; a replica cut off is dropped by TCP keepalive), so another
// replica's next attempt takes over. Chosen over a Kubernetes Lease: the database is already the one thing every
// replica shares, it works outside Kubernetes (and in our tests), and a lock tied to the session cannot outlive its
// holder the way a lease must be timed out. A single SQLite process is always the leader (AlwaysLeader).
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';

/** Who may publish to shared sinks now. `onChange` hears every gain or loss. */
export interface Leadership {
  readonly isLeader: boolean;
  onChange(listener: (leader: boolean) => void): void;
  close(): Promise<void>;
}

export class AlwaysLeader implements Leadership {
  readonly isLeader = true;
  onChange(): void {}
  async close(): Promise<void> {}
}

/** The lock's key: one per database, shared by every replica ("tollgate-distributor" folded into 63 bits). */
export const DISTRIBUTOR_LOCK_KEY = 0x746f6c6c67617465n;

export interface AdvisoryLeaderOptions {
  /** A fresh connection per attempt: the lock lives as long as it. */
  connect: () => Promise<pg.Client>;
  log: FastifyBaseLogger;
  /** How often a follower tries to take the lock, and the leader checks that its session still answers. */
  intervalMs?: number;
  /** Another lock for another single-writer duty (default DISTRIBUTOR_LOCK_KEY). */
  lockKey?: bigint;
  /** What the log lines call the duty (default 'distributor'). */
  duty?: string;
}

export class AdvisoryLeader implements Leadership {
  private client: pg.Client | undefined;
  private leader = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: ((leader: boolean) => void)[] = [];
  private readonly intervalMs: number;

  constructor(private readonly o: AdvisoryLeaderOptions) {
    this.intervalMs = o.intervalMs ?? 1000;
    void this.attempt();
  }

  get isLeader(): boolean {
    return this.leader;
  }

  onChange(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    if (this.o.duty === undefined) this.o.log.info({ leader }, leader ? 'this replica now distributes' : 'this replica no longer distributes');
    else this.o.log.info({ leader, duty: this.o.duty }, leader ? `this replica now leads ${this.o.duty}` : `this replica no longer leads ${this.o.duty}`);
    for (const l of this.listeners) l(leader);
  }

  private async drop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.set(false);
    if (c !== undefined) await c.end().catch(() => undefined);
  }

  private async attempt(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.client === undefined) {
        const c = await this.o.connect();
        // A broken session means the lock is gone with it: stop distributing at once.
        c.on('error', () => { void this.drop(); });
        this.client = c;
      }
      if (this.leader) {
        // The leader's heartbeat: a session that no longer answers holds no lock.
        await this.client.query('SELECT 1');
      } else {
        const r = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [(this.o.lockKey ?? DISTRIBUTOR_LOCK_KEY).toString()]);
        this.set(r.rows[0]?.ok === true);
      }
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, `${this.o.duty ?? 'distributor'} lock: database unreachable; ${this.o.duty === undefined ? 'not distributing' : 'standing by'}`);
      await this.drop();
    }
    if (!this.closed) {
      this.timer = setTimeout(() => void this.attempt(), this.intervalMs);
      this.timer.unref();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    // Ending the session releases the lock for the next replica without waiting for anything.
    await this.drop();
  }
}
