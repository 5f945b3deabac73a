// Deterministic interleaving for race tests. All VMs share one JS thread, so two workers can never really run at
// once; instead, when a VM touches shared data, the scheduler may (seeded PRNG) run the request-header phase of a
// queued stream on another, idle worker VM before the call returns — which is exactly the window in which Envoy's
// worker threads race on shared data.

/** mulberry32: tiny, fast, good enough for a reproducible schedule. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Runnable<V> {
  vm: V;
  run(): void;
}

export class Interleaver<V extends { busy: boolean }> {
  private readonly queue: Array<Runnable<V>> = [];
  private depth = 0;
  private readonly random: () => number;
  preemptions = 0;

  constructor(seed: number, private readonly maxDepth = 2, private readonly probability = 0.5) {
    this.random = seededRandom(seed);
  }

  enqueue(item: Runnable<V>): void {
    this.queue.push(item);
  }

  /** Removes the item (it is about to run normally); false when it already ran as a preemption. */
  take(item: Runnable<V>): boolean {
    const at = this.queue.indexOf(item);
    if (at < 0) return false;
    this.queue.splice(at, 1);
    return true;
  }

  /** Called from a shared-data host call of `current`: maybe run one queued item on another, idle VM. */
  maybeRun(current: V): void {
    if (this.depth >= this.maxDepth || this.queue.length === 0) return;
    if (this.random() >= this.probability) return;
    const candidates = this.queue.filter((q) => q.vm !== current && !q.vm.busy);
    if (candidates.length === 0) return;
    const pick = candidates[Math.floor(this.random() * candidates.length)]!;
    this.take(pick);
    this.depth++;
    this.preemptions++;
    try {
      pick.run();
    } finally {
      this.depth--;
    }
  }
}
