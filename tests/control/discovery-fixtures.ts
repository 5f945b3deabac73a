// Documents for the discovery tests.

/** A small OpenAPI 3.0 document: one GET per path (operationIds op0, op1, …) under the base path. */
export function openapi(title: string, paths: string[], base = '/orders'): string {
  return JSON.stringify({
    openapi: '3.0.3', info: { title, version: '1.0.0' }, servers: [{ url: base }],
    paths: Object.fromEntries(paths.map((p, i) => [p, { get: { operationId: `op${i}`, responses: { 200: { description: 'ok' } } } }])),
  });
}
