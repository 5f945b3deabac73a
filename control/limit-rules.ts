// Rules of limits that compose (docs/control.md "Limits that compose"; contracts/filter-config.ts Limit). Pure: the
// stores call them inside the transaction that writes the plan, with the operations they read there, so a plan never
// names an API it does not include or an operation that does not exist.
import { PERIODS, type Limit, type OperationLimit } from '../contracts/filter-config.js';
import { ProblemError } from './errors.js';

/** Most limits one plan carries (each is a counter in the subscription's one shared-data entry). */
export const MAX_PLAN_LIMITS = 16;
/** Most default limits one operation carries (x-tollgate `limits`). */
export const MAX_OPERATION_LIMITS = 8;

/** The id a limit is known by when it sets none (contracts/filter-config.ts: `<per>`, `<apiId>:<per>`, `<apiId>/<operationId>:<per>`). */
export function limitId(l: Limit): string {
  if (l.id !== undefined) return l.id;
  if (l.apiId === undefined) return l.per;
  return l.operationId === undefined ? `${l.apiId}:${l.per}` : `${l.apiId}/${l.operationId}:${l.per}`;
}

/** The default id of an operation's limit, as the filter names it (scoped to its API and operation). */
export function operationLimitId(apiId: string, operationId: string, l: OperationLimit): string {
  return l.id ?? `${apiId}/${operationId}:${l.per}`;
}

/**
 * Why a plan's limits are not valid for its APIs, or undefined. `operationsOf(apiId)`: the operation ids of an API the
 * plan includes. Each problem names the limit by its index (`limits/2/apiId`), as schema errors do.
 */
export function planLimitProblems(limits: readonly Limit[], apiIds: readonly string[], operationsOf: (apiId: string) => ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (limits.length > MAX_PLAN_LIMITS) problems.push(`limits: at most ${MAX_PLAN_LIMITS} limits per plan (${limits.length} given)`);
  const included = new Set(apiIds);
  const ids = new Map<string, number>();
  limits.forEach((l, i) => {
    if (l.operationId !== undefined && l.apiId === undefined) problems.push(`limits/${i}/operationId: needs the operation's apiId`);
    if (l.apiId !== undefined && !included.has(l.apiId)) problems.push(`limits/${i}/apiId: api '${l.apiId}' is not one of the plan's apiIds`);
    else if (l.apiId !== undefined && l.operationId !== undefined && !operationsOf(l.apiId).has(l.operationId)) {
      problems.push(`limits/${i}/operationId: '${l.operationId}' is not an operation of api '${l.apiId}'`);
    }
    const id = limitId(l);
    const first = ids.get(id);
    // Default ids collide exactly when two limits share scope and period: one of them would shadow the other silently.
    if (first !== undefined) problems.push(`limits/${i}: id '${id}' is also limits/${first}'s (ids are unique in a plan; set id to tell them apart)`);
    else ids.set(id, i);
  });
  return problems;
}

/** An operation's default limits as stored: NULL for none, so operations without any read as before migration 010. */
export const limitsColumn = (o: { limits?: readonly OperationLimit[] }): string | null =>
  (o.limits === undefined || o.limits.length === 0 ? null : JSON.stringify(o.limits));

/** Throws a 422 naming every problem of the plan's limits. */
export function checkPlanLimits(limits: readonly Limit[], apiIds: readonly string[], operationsOf: (apiId: string) => ReadonlySet<string>): void {
  const problems = planLimitProblems(limits, apiIds, operationsOf);
  if (problems.length > 0) throw new ProblemError(422, 'Invalid limits', problems.join('; '));
}

/** The (apiId, operationId) pairs a plan's limits name: what a store must look up. */
export function namedOperations(limits: readonly Limit[]): { apiId: string; operationId: string }[] {
  return limits.flatMap((l) => (l.apiId !== undefined && l.operationId !== undefined ? [{ apiId: l.apiId, operationId: l.operationId }] : []));
}

/** A limit as stored and compiled: only the fields that are set (`shadow` only when true), in a fixed member order. */
export function normalLimit(l: Limit): Limit {
  return {
    requests: l.requests, per: l.per,
    ...(l.id !== undefined ? { id: l.id } : {}),
    ...(l.apiId !== undefined ? { apiId: l.apiId } : {}),
    ...(l.operationId !== undefined ? { operationId: l.operationId } : {}),
    ...(l.shadow === true ? { shadow: true } : {}),
  };
}

/** Deterministic limit order: by scope (unscoped, API, operation), then period, then requests, then id. */
export function sortLimits<T extends Limit>(limits: readonly T[]): T[] {
  const scope = (l: Limit): string => (l.apiId === undefined ? '' : `${l.apiId}\u0000${l.operationId ?? ''}`);
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...limits].sort((a, b) => cmp(scope(a), scope(b)) || PERIODS.indexOf(a.per) - PERIODS.indexOf(b.per) || a.requests - b.requests
    || cmp(limitId(a), limitId(b)));
}

/**
 * A re-import that would remove operations a plan's limits name is refused (409) rather than dropping those limits:
 * a limit silently vanishing would raise what the subscription may spend. The plans are named so they can be edited
 * first. `plans`: the plans that include the API, with their limits.
 */
export function checkRemovedOperations(apiId: string, removed: readonly string[], plans: readonly { id: string; limits: readonly Limit[] }[]): void {
  if (removed.length === 0) return;
  const gone = new Set(removed);
  const hits: string[] = [];
  for (const p of plans) {
    const ops = [...new Set(p.limits.filter((l) => l.apiId === apiId && l.operationId !== undefined && gone.has(l.operationId)).map((l) => l.operationId!))];
    if (ops.length > 0) hits.push(`plan '${p.id}' limits operation(s) ${ops.sort().join(', ')}`);
  }
  if (hits.length > 0) {
    throw new ProblemError(409, 'Conflict', `the import removes operations that plans limit: ${hits.join('; ')}. Remove those limits from the plans first (PATCH /v1/plans/{id})`);
  }
}
