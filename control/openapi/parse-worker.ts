// The worker side of parse-pool.ts: reads one document at a time (read.ts) and answers with the model, or with the
// refusal as plain data (errors do not cross threads with their class), which the pool turns back into the same
// DocumentSyntaxError / DocumentRefusedError. Loaded as the worker's entry from source (parse-worker-entry.mjs), or
// as part of the bundle (dist/control.js), whose entry (main.ts) does nothing else in a worker.
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { DocumentRefusedError, DocumentSyntaxError, type DocumentProblem, type Syntax } from './document.js';
import type { ImportModel, ModelOptions } from './model.js';
import { readModel } from './read.js';

/** workerData of a parse worker (so a bundle loaded in a worker knows what it is there for). */
export const PARSE_WORKER = 'tollgate-openapi-parse';

export interface ParseJob { body: Uint8Array; syntax: Syntax; options: ModelOptions }
export type ParseOutcome =
  | { ok: true; model: ImportModel }
  | { ok: false; kind: 'syntax'; message: string }
  | { ok: false; kind: 'refused'; problems: DocumentProblem[] }
  | { ok: false; kind: 'failed'; message: string };

export async function parseJob(job: ParseJob): Promise<ParseOutcome> {
  try {
    return { ok: true, model: await readModel(job.body, job.syntax, job.options) };
  } catch (err) {
    if (err instanceof DocumentSyntaxError) return { ok: false, kind: 'syntax', message: err.message };
    if (err instanceof DocumentRefusedError) return { ok: false, kind: 'refused', problems: err.problems };
    return { ok: false, kind: 'failed', message: err instanceof Error ? err.message : String(err) };
  }
}

/** The outcome as the caller of readModel would have seen it. */
export function modelOf(outcome: ParseOutcome): ImportModel {
  if (outcome.ok) return outcome.model;
  if (outcome.kind === 'syntax') throw new DocumentSyntaxError(outcome.message);
  if (outcome.kind === 'refused') throw new DocumentRefusedError(outcome.problems);
  throw new Error(outcome.message);
}

function serve(port: MessagePort): void {
  port.on('message', (job: ParseJob) => {
    void parseJob(job).then((outcome) => port.postMessage(outcome));
  });
}

if (!isMainThread && parentPort !== null && (workerData as { role?: unknown } | undefined)?.role === PARSE_WORKER) serve(parentPort);
