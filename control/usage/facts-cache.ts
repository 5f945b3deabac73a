// Key and API facts (a key's subscription, its plan's limits and APIs; which APIs exist) kept in a replica's memory, so
// a report does not read them from the database every time. Forgotten whole on every change the store publishes
// (keys, plans, APIs; on PostgreSQL other replicas' changes arrive through LISTEN/NOTIFY), so they are at most as stale
// as that notification. Only what exists is kept: an id not found is asked for again, so a new key counts at once.
import type { ChangeFeed } from '../store/changes.js';
import type { KeyFacts, UsageRepository } from '../store/repository.js';

export class FactsCache {
  private keys = new Map<string, KeyFacts>();
  private apis = new Set<string>();
  /** Bumped on every change: a read that began before it must not fill the cache with what it found. */
  private generation = 0;
  private readonly unsubscribe: () => void;

  constructor(private readonly repo: Pick<UsageRepository, 'keyFacts' | 'existingApis'>, changes: ChangeFeed) {
    this.unsubscribe = changes.subscribe(() => {
      this.generation++;
      this.keys = new Map();
      this.apis = new Set();
    });
  }

  async keyFacts(keyIds: readonly string[]): Promise<Map<string, KeyFacts>> {
    const found = new Map<string, KeyFacts>();
    const missing: string[] = [];
    for (const id of keyIds) {
      const f = this.keys.get(id);
      if (f === undefined) missing.push(id);
      else found.set(id, f);
    }
    if (missing.length === 0) return found;
    const generation = this.generation;
    const read = await this.repo.keyFacts(missing);
    const keep = generation === this.generation;
    for (const [id, f] of read) {
      found.set(id, f);
      if (keep) this.keys.set(id, f);
    }
    return found;
  }

  async existingApis(apiIds: readonly string[]): Promise<Set<string>> {
    const missing = apiIds.filter((id) => !this.apis.has(id));
    const found = new Set(apiIds.filter((id) => this.apis.has(id)));
    if (missing.length === 0) return found;
    const generation = this.generation;
    const read = await this.repo.existingApis(missing);
    for (const id of read) {
      found.add(id);
      if (generation === this.generation) this.apis.add(id);
    }
    return found;
  }

  close(): void {
    this.unsubscribe();
  }
}
