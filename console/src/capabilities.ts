// Pure: what this control service offers, read from its OpenAPI document, so the console shows newer views (fleet,
// per-operation usage) only where the service has them and keeps working against older ones.
export interface Capabilities {
  fleet: boolean;
  /** GET /v1/usage takes an operationId filter. */
  usageByOperation: boolean;
  /** GET /v1/usage/export groups by operation (the per-operation breakdown). */
  exportByOperation: boolean;
  /** GET /v1/usage/top ranks consumers in the service (else the console reads usage once per consumer). */
  usageTop: boolean;
}

interface OpenApiDoc { paths?: Record<string, Record<string, { parameters?: { name?: string; in?: string }[] }>> }

export function capabilitiesOf(doc: unknown): Capabilities {
  const paths = (doc as OpenApiDoc | undefined)?.paths ?? {};
  const usageParams = paths['/v1/usage']?.get?.parameters ?? [];
  return {
    fleet: paths['/v1/fleet']?.get !== undefined,
    usageByOperation: usageParams.some((p) => p.in === 'query' && p.name === 'operationId'),
    exportByOperation: (paths['/v1/usage/export']?.get?.parameters ?? []).some((p) => p.in === 'query' && p.name === 'groupBy'),
    usageTop: (paths['/v1/usage/top']?.get?.parameters ?? []).some((p) => p.in === 'query' && p.name === 'by'),
  };
}

export const NO_CAPABILITIES: Capabilities = { fleet: false, usageByOperation: false, exportByOperation: false, usageTop: false };
