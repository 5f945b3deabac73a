// POST /v1/apis:import and `tollgate import`: body bytes → document → model → one store transaction (or none for a
// dry run). The route only maps HTTP onto this.
import { createHash } from 'node:crypto';
import { newId } from '../key-material.js';
import type { ApiRepository } from '../store/repository.js';
import type { Api, ApiOperation } from '../store/types.js';
import { planImport, type ImportDiff } from './diff.js';
import type { Syntax } from './document.js';
import type { ImportModel, ModelOptions } from './model.js';
import { readModel } from './read.js';

/** Bytes → model (read.ts): on the event loop, or in a worker (parse-pool.ts). */
export type ModelReader = (body: Uint8Array, syntax: Syntax, options: ModelOptions) => Promise<ImportModel>;

export interface ImportRequest extends ModelOptions {
  body: Uint8Array;
  syntax: Syntax;
  /** Update this API (NotFoundError if it does not exist); else the API with the document's name, else a new one. */
  apiId?: string;
  dryRun: boolean;
}

export interface ImportResult {
  created: boolean;
  dryRun: boolean;
  /** As stored after the import; for a dry run, as it would be (a new API's id and new operations' ids are not kept). */
  api: Api;
  /** Every operation of the API after the import, in document order. */
  operations: ApiOperation[];
  diff: ImportDiff;
}

/**
 * Throws DocumentSyntaxError (400: not JSON/YAML) or DocumentRefusedError (422: not OpenAPI 3.0/3.1, or breaks an
 * import rule; every problem with its pointer). Nothing is stored unless the whole document is accepted.
 */
export async function importOpenApi(
  apis: ApiRepository, req: ImportRequest, now: () => number = () => Math.floor(Date.now() / 1000), read: ModelReader = readModel,
): Promise<ImportResult> {
  const options = { ...(req.name !== undefined ? { name: req.name } : {}), ...(req.pathPrefix !== undefined ? { pathPrefix: req.pathPrefix } : {}) };
  const model = await read(req.body, req.syntax, options);
  const sha256 = createHash('sha256').update(req.body).digest('hex');
  let planned: ReturnType<typeof planImport> | undefined;
  const applied = await apis.importApi(
    { ...(req.apiId !== undefined ? { apiId: req.apiId } : {}), name: model.name },
    (current) => {
      planned = planImport(current, { model, sha256, keepName: req.apiId !== undefined && req.name === undefined, newOperationId: () => newId('op') });
      return planned.plan;
    },
    req.dryRun,
  );
  const { diff, operations } = planned!;
  const { current, plan } = applied;
  const t = now();
  const api: Api = applied.api ?? {
    id: current.apiId, name: plan.api.name, pathPrefix: plan.api.pathPrefix, hosts: current.api?.hosts ?? [], methods: current.api?.methods ?? [],
    createdAt: current.api?.createdAt ?? t, updatedAt: plan.writeApi ? t : current.api?.updatedAt ?? t,
    unknownOperation: plan.api.unknownOperation, importedFrom: plan.api.importedFrom, operationCount: operations.length,
  };
  return { created: current.api === null, dryRun: req.dryRun, api, operations, diff };
}
