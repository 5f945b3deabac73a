// What a (re-)import changes, decided from what is stored and the document's model. Pure: the store calls plan()
// inside its transaction (store/repository.ts importApi), so the diff it reports is the one it applies.
import type { ImportCurrent, ImportPlan } from '../store/repository.js';
import type { ApiOperation, ImportSource } from '../store/types.js';
import { DocumentRefusedError, MAX_PROBLEMS } from './document.js';
import type { ImportModel } from './model.js';

/** The operation fields a re-import can change (id, key and API stay). */
export const OPERATION_FIELDS = ['operationId', 'method', 'path', 'cost', 'visibility', 'summary', 'limits'] as const;
type Field = (typeof OPERATION_FIELDS)[number];
export type OperationFields = Pick<ApiOperation, Field>;

export interface OperationChange { id: string; key: string; before: Partial<OperationFields>; after: Partial<OperationFields> }
export interface ImportDiff {
  api: 'created' | 'updated' | 'unchanged';
  /** API fields that change, each with its value before and after (all of them for a new API, before = null). */
  changes: Record<string, { before: unknown; after: unknown }>;
  operations: {
    added: ApiOperation[];
    changed: OperationChange[];
    removed: ApiOperation[];
    /** Operations whose only change is their place in the document. */
    moved: number;
    unchanged: number;
  };
}

export interface PlanInput {
  model: ImportModel;
  sha256: string;
  /** Keep the stored API's name (an import that targets an API by id and names none). */
  keepName: boolean;
  newOperationId: () => string;
}

/** Whether a field is the same before and after (`limits`, an array, by value; absent limits = none). */
function same(f: Field, a: ApiOperation, b: ApiOperation): boolean {
  if (f === 'limits') return JSON.stringify(a.limits ?? []) === JSON.stringify(b.limits ?? []);
  return a[f] === b[f];
}

export interface Planned { plan: ImportPlan; diff: ImportDiff; operations: ApiOperation[] }

const sameSource = (a: ImportSource | null, b: ImportSource): boolean => a !== null && a.sha256 === b.sha256 && a.title === b.title && a.version === b.version;

export function planImport(current: ImportCurrent, input: PlanInput): Planned {
  const { model } = input;
  const before = current.api;
  // An API that lists methods takes only operations of those methods (the filter refuses any other as unreachable).
  const allowed = before?.methods ?? [];
  const outside = allowed.length === 0 ? [] : model.operations.filter((o) => !allowed.includes(o.method));
  if (outside.length > 0) {
    throw new DocumentRefusedError(outside.slice(0, MAX_PROBLEMS).map((o) => ({
      pointer: o.pointer,
      message: `API ${before!.id} takes only ${allowed.join(', ')} requests (its methods): widen them with PATCH /v1/apis/${before!.id} first`,
    })));
  }
  const importedFrom: ImportSource = { title: model.title, version: model.version, sha256: input.sha256 };
  const api = {
    name: input.keepName && before !== null ? before.name : model.name,
    pathPrefix: model.pathPrefix,
    unknownOperation: model.unknownOperation,
    importedFrom,
  };
  const changes: ImportDiff['changes'] = {};
  const note = (field: string, was: unknown, now: unknown, same: boolean): void => {
    if (!same) changes[field] = { before: was, after: now };
  };
  note('name', before?.name ?? null, api.name, before?.name === api.name);
  note('pathPrefix', before?.pathPrefix ?? null, api.pathPrefix, before?.pathPrefix === api.pathPrefix);
  note('unknownOperation', before?.unknownOperation ?? null, api.unknownOperation, before?.unknownOperation === api.unknownOperation);
  note('importedFrom', before?.importedFrom ?? null, importedFrom, sameSource(before?.importedFrom ?? null, importedFrom));

  const stored = new Map(current.operations.map((o) => [o.key, o]));
  const insert: ApiOperation[] = [];
  const update: ApiOperation[] = [];
  const changed: OperationChange[] = [];
  const operations: ApiOperation[] = [];
  let moved = 0;
  let unchanged = 0;
  for (const m of model.operations) {
    const old = stored.get(m.key);
    const next: ApiOperation = {
      id: old?.id ?? input.newOperationId(), apiId: current.apiId, key: m.key, operationId: m.operationId, method: m.method, path: m.path,
      cost: m.cost, visibility: m.visibility, summary: m.summary, position: m.position, limits: m.limits,
    };
    operations.push(next);
    if (old === undefined) {
      insert.push(next);
      continue;
    }
    stored.delete(m.key);
    const fields = OPERATION_FIELDS.filter((f) => !same(f, old, next));
    if (fields.length > 0) {
      changed.push({
        id: old.id, key: old.key,
        before: Object.fromEntries(fields.map((f) => [f, f === 'limits' ? old.limits ?? [] : old[f]])) as Partial<OperationFields>,
        after: Object.fromEntries(fields.map((f) => [f, next[f]])) as Partial<OperationFields>,
      });
      update.push(next);
    } else if (old.position !== next.position) {
      moved++;
      update.push(next);
    } else unchanged++;
  }
  const removed = [...stored.values()];
  // The API row is written (and its updatedAt moves) whenever anything of it or its operations changes.
  const anything = Object.keys(changes).length > 0 || insert.length > 0 || update.length > 0 || removed.length > 0;
  return {
    plan: { api, writeApi: anything, insert, update, remove: removed.map((o) => o.id) },
    diff: {
      api: before === null ? 'created' : anything ? 'updated' : 'unchanged',
      changes,
      operations: { added: insert, changed, removed, moved, unchanged },
    },
    operations,
  };
}
