// Pure: the per-operation breakdown from GET /v1/usage/export (NDJSON, groupBy api,operation — and consumer when the
// view filters by one): rows summed over the periods, filtered to the chosen API/consumer, busiest first. The trailer
// line ({"end":true,…}) and blank lines are skipped; a malformed line is an error, not a silent gap.
export interface OperationUsage {
  apiId: string;
  /** '' for requests that matched no operation (APIs without operations, or a pass-through unknown one). */
  operationId: string;
  requests: number; units: number; rejectedQuota: number; rejectedAuth: number; rejectedForbidden: number; status5xx: number;
}

interface ExportLine {
  end?: boolean; api_id?: string; operation_id?: string | null; consumer_id?: string;
  requests?: number; units?: number; rejected_quota?: number; rejected_auth?: number; rejected_forbidden?: number; status_5xx?: number;
}

export function operationBreakdown(ndjson: string, filter: { apiId?: string; consumerId?: string }): OperationUsage[] {
  const sums = new Map<string, OperationUsage>();
  for (const line of ndjson.split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as ExportLine;
    if (r.end === true) continue;
    const apiId = r.api_id ?? '';
    if (filter.apiId !== undefined && filter.apiId !== '' && apiId !== filter.apiId) continue;
    if (filter.consumerId !== undefined && filter.consumerId !== '' && r.consumer_id !== filter.consumerId) continue;
    const operationId = r.operation_id ?? '';
    const k = `${apiId}\u0000${operationId}`;
    const s = sums.get(k) ?? { apiId, operationId, requests: 0, units: 0, rejectedQuota: 0, rejectedAuth: 0, rejectedForbidden: 0, status5xx: 0 };
    s.requests += r.requests ?? 0;
    s.units += r.units ?? 0;
    s.rejectedQuota += r.rejected_quota ?? 0;
    s.rejectedAuth += r.rejected_auth ?? 0;
    s.rejectedForbidden += r.rejected_forbidden ?? 0;
    s.status5xx += r.status_5xx ?? 0;
    sums.set(k, s);
  }
  const busy = (o: OperationUsage) => o.requests + o.rejectedQuota + o.rejectedAuth + o.rejectedForbidden;
  return [...sums.values()].sort((a, b) => busy(b) - busy(a) || a.apiId.localeCompare(b.apiId) || a.operationId.localeCompare(b.operationId));
}

/** The export's periods are whole UTC hours: the range widened to them. */
export function hourAligned(from: number, to: number): { from: number; to: number } {
  return { from: Math.floor(from / 3600) * 3600, to: Math.ceil(to / 3600) * 3600 };
}
