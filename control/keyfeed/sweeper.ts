// Every SWEEP_MS: keys whose expiry passed leave the feed's set (op expire), and the change log is pruned to its
// horizon. Both statements are idempotent, so on PostgreSQL every replica may run them (the key writers' lock orders
// them); until a key is swept the filter rejects it by its own expiresAt, so snapshot, deltas and digest agree.
import type { FastifyBaseLogger } from 'fastify';
import type { KeyFeedRepository } from '../store/repository.js';

export const SWEEP_MS = 30_000;
/** Keys expired per statement: a backlog (a store that was down) drains over several rounds without long locks. */
export const SWEEP_BATCH = 10_000;

export class FeedSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly feed: KeyFeedRepository, private readonly log: FastifyBaseLogger, private readonly everyMs = SWEEP_MS,
    private readonly now = (): number => Math.floor(Date.now() / 1000)) {}

  /** One round: expire in batches until none is left, then prune. */
  async sweep(): Promise<number> {
    let total = 0;
    for (let n = SWEEP_BATCH; n === SWEEP_BATCH && !this.stopped;) total += n = await this.feed.sweepExpired(this.now(), SWEEP_BATCH);
    await this.feed.prune(this.now());
    return total;
  }

  start(): void {
    const tick = (): void => {
      this.running = this.sweep().then(() => undefined, (err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'key feed sweep failed; retrying at the next round');
      }).finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.everyMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }
}
