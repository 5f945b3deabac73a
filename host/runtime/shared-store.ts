// Shared data and shared queues: one store per host ("process"), partitioned by vm_id, visible to every VM of that
// vm_id (workers, main thread, canary). CAS values come from one global counter and are never 0.
import { WasmResult } from '../abi/constants.js';

export interface SharedEntry {
  value: Uint8Array;
  cas: number;
}

export interface QueueOwner {
  /** Delivers on_queue_ready to the registrant (asynchronously, like Envoy's post to the owner's dispatcher). */
  notify(token: number): void;
}

interface SharedQueue {
  vmId: string;
  name: string;
  token: number;
  items: Uint8Array[];
  owner: QueueOwner;
}

export class SharedStore {
  private readonly data = new Map<string, Map<string, SharedEntry>>();
  private casCounter = 0;
  private readonly queues = new Map<number, SharedQueue>();
  private readonly queueByName = new Map<string, number>();
  private nextQueueToken = 1;

  partition(vmId: string): Map<string, SharedEntry> {
    let p = this.data.get(vmId);
    if (p === undefined) {
      p = new Map();
      this.data.set(vmId, p);
    }
    return p;
  }

  private nextCas(): number {
    this.casCounter = (this.casCounter + 1) >>> 0;
    if (this.casCounter === 0) this.casCounter = 1;
    return this.casCounter;
  }

  get(vmId: string, key: string): SharedEntry | undefined {
    return this.partition(vmId).get(key);
  }

  set(vmId: string, key: string, value: Uint8Array, cas: number): number {
    const p = this.partition(vmId);
    const existing = p.get(key);
    if (existing !== undefined && cas !== 0 && cas !== existing.cas) return WasmResult.CasMismatch;
    p.set(key, { value: value.slice(), cas: this.nextCas() });
    return WasmResult.Ok;
  }

  registerQueue(vmId: string, name: string, owner: QueueOwner): number {
    const key = `${vmId}\0${name}`;
    const existing = this.queueByName.get(key);
    if (existing !== undefined) {
      this.queues.get(existing)!.owner = owner; // last registrant gets on_queue_ready; data is kept
      return existing;
    }
    const token = this.nextQueueToken++;
    this.queues.set(token, { vmId, name, token, items: [], owner });
    this.queueByName.set(key, token);
    return token;
  }

  resolveQueue(vmId: string, name: string): number | undefined {
    return this.queueByName.get(`${vmId}\0${name}`);
  }

  enqueue(token: number, data: Uint8Array): number {
    const q = this.queues.get(token);
    if (q === undefined) return WasmResult.NotFound;
    q.items.push(data.slice());
    q.owner.notify(token);
    return WasmResult.Ok;
  }

  dequeue(token: number): { result: number; data?: Uint8Array } {
    const q = this.queues.get(token);
    if (q === undefined) return { result: WasmResult.NotFound };
    const data = q.items.shift();
    if (data === undefined) return { result: WasmResult.Empty };
    return { result: WasmResult.Ok, data };
  }
}
