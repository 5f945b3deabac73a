// The host's clock and timers. 'virtual': time moves only in advance(), which fires due timers in time order, so tick
// and timeout tests are deterministic. 'real': the wall clock and Node timers.

export interface TimerHandle {
  cancel(): void;
}

interface VirtualTimer {
  due: number;
  period: number; // 0 = one-shot
  seq: number;
  fire: () => void;
  cancelled: boolean;
}

export class HostClock {
  private virtualNow: number;
  private readonly monotonicOrigin = performance.now();
  private readonly timers = new Set<VirtualTimer>();
  /** Real mode: every armed Node timer, so cancelAll() can stop them all. */
  private readonly realTimers = new Set<TimerHandle>();
  /** After cancelAll() (the host closed) nothing is armed again: a late callback must not keep the process alive. */
  private stopped = false;
  private seq = 0;

  constructor(readonly mode: 'virtual' | 'real', startTimeMs: number) {
    this.virtualNow = startTimeMs;
  }

  now(): number {
    return this.mode === 'virtual' ? this.virtualNow : Date.now();
  }

  wallNs(): bigint {
    return BigInt(Math.floor(this.now())) * 1_000_000n;
  }

  monotonicNs(): bigint {
    const ms = this.mode === 'virtual' ? this.virtualNow : performance.now() - this.monotonicOrigin;
    return BigInt(Math.floor(ms * 1_000_000));
  }

  /** One-shot (period 0) or repeating timer; the first firing is `delayMs` from now. */
  schedule(delayMs: number, fire: () => void, period = 0): TimerHandle {
    if (this.stopped) return { cancel: () => undefined };
    if (this.mode === 'real') {
      let interval: NodeJS.Timeout | undefined;
      const timeout = setTimeout(() => {
        if (period === 0) this.realTimers.delete(handle);
        fire();
        if (period > 0 && !this.stopped && this.realTimers.has(handle)) interval = setInterval(fire, period);
      }, delayMs);
      const handle: TimerHandle = {
        cancel: () => {
          clearTimeout(timeout);
          if (interval !== undefined) clearInterval(interval);
          this.realTimers.delete(handle);
        },
      };
      this.realTimers.add(handle);
      return handle;
    }
    const timer: VirtualTimer = { due: this.virtualNow + delayMs, period, seq: this.seq++, fire, cancelled: false };
    this.timers.add(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
        this.timers.delete(timer);
      },
    };
  }

  private nextDue(limit: number): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.timers) {
      if (t.due > limit) continue;
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }

  /** Virtual: fire every timer due up to now+ms, in order, yielding to the event loop between firings. */
  async advance(ms: number): Promise<void> {
    if (this.mode === 'real') {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return;
    }
    const target = this.virtualNow + ms;
    for (;;) {
      const timer = this.nextDue(target);
      if (timer === undefined) break;
      this.virtualNow = Math.max(this.virtualNow, timer.due);
      if (timer.period > 0) {
        timer.due += timer.period;
        timer.seq = this.seq++;
      } else this.timers.delete(timer);
      timer.fire();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.virtualNow = target;
  }

  /** Stops every timer, virtual or real, and refuses new ones: the host is closing. */
  cancelAll(): void {
    this.stopped = true;
    for (const t of this.timers) t.cancelled = true;
    this.timers.clear();
    for (const h of [...this.realTimers]) h.cancel();
  }
}
