// The store's change feed: every write that can alter a compiled configuration is published here, and whoever needs
// to know (the distributor) subscribes. Created before the store and the distributor, so neither is wired late.
export type ChangeListener = () => void;

export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();

  /** Returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(): void {
    for (const l of [...this.listeners]) l();
  }
}
