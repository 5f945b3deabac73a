// Large OpenAPI documents are read (parsed, validated, modelled: read.ts) in worker threads, so a multi-megabyte YAML
// import does not hold the event loop for seconds (5.5 MB of YAML: ~3.6 s). At most `size` documents are read at
// once, one per worker; another one while all are busy is refused (the route answers 503 with Retry-After), not
// queued behind them. Workers start on first use, stay for the next document, and never keep the process alive idle.
import { Worker } from 'node:worker_threads';
import { DocumentSyntaxError, type Syntax } from './document.js';
import type { ImportModel, ModelOptions } from './model.js';
import { modelOf, PARSE_WORKER, type ParseJob, type ParseOutcome } from './parse-worker.js';

/** Documents larger than this are read in a worker; smaller ones cost less than a message round trip matters. */
export const WORKER_THRESHOLD_BYTES = 256 * 1024;
/**
 * Stack per worker: the main thread's (V8's default, ~1 MB), not a worker's default 4 MB, so the YAML parser, which
 * recurses per nesting level, gives up on a deeply nested document where it does on the main thread. The heap is
 * left at the process's default like the main thread's: a hostile document (a million nested flow sequences) needs
 * ~1.2 GB before the parser's stack gives out, and must end in the same 400 as inline.
 */
const WORKER_STACK_MB = 1;

/** Every worker is reading a document. */
export class ParsePoolBusyError extends Error {}

/**
 * Where a worker starts: from source (this file is TypeScript), the entry that registers tsx in the worker; from the
 * bundle, the bundle itself (its parse-worker part serves; its entry, main.ts, runs only on the main thread).
 */
function workerEntry(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('./parse-worker-entry.mjs', here) : new URL(here);
}

export class ParsePool {
  private readonly idle: Worker[] = [];
  private busy = 0;
  private closed = false;

  /** `heapMb`: a cap on each worker's heap (default: none beyond the process's). */
  constructor(readonly size = 2, private readonly entry: URL = workerEntry(), private readonly heapMb?: number) {}

  /** How many documents are being read now. */
  get running(): number {
    return this.busy;
  }

  /** Reads the document in a worker; ParsePoolBusyError at once when `size` are being read already. */
  async read(body: Uint8Array, syntax: Syntax, options: ModelOptions): Promise<ImportModel> {
    if (this.closed) throw new Error('the OpenAPI parse pool is closed');
    if (this.busy >= this.size) throw new ParsePoolBusyError(`${this.busy} large OpenAPI document(s) are being read already`);
    this.busy += 1;
    const worker = this.idle.pop() ?? new Worker(this.entry, { workerData: { role: PARSE_WORKER }, resourceLimits: { stackSizeMb: WORKER_STACK_MB, ...(this.heapMb !== undefined ? { maxOldGenerationSizeMb: this.heapMb } : {}) } });
    worker.ref();
    try {
      const outcome = await this.run(worker, { body, syntax, options });
      if (this.closed) void worker.terminate();
      else {
        worker.unref();
        this.idle.push(worker);
      }
      return modelOf(outcome);
    } finally {
      this.busy -= 1;
    }
  }

  /** One job on one worker: its answer, or (the worker died: out of memory, a crash) a refusal saying so. */
  private run(worker: Worker, job: ParseJob): Promise<ParseOutcome> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (outcome: ParseOutcome): void => { done(); resolve(outcome); };
      const onError = (err: Error): void => {
        done();
        void worker.terminate();
        reject(new DocumentSyntaxError(`the document could not be read: ${err.message}`));
      };
      const onExit = (code: number): void => { done(); reject(new Error(`the OpenAPI parse worker exited (${code})`)); };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.splice(0).map((w) => w.terminate()));
  }
}
