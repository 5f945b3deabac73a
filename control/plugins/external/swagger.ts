// OpenAPI 3 document generated from the routes' TypeBox schemas, served at /openapi.json.
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

export async function registerSwagger(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'tollgate control API', version: '1.0.0', description: 'API keys and quotas enforced in the Envoy sidecar' },
      components: {
        securitySchemes: {
          admin: { type: 'http', scheme: 'bearer', description: 'admin token' },
          report: { type: 'http', scheme: 'bearer', description: 'report token (proxies)' },
        },
      },
      security: [{ admin: [] }],
    },
  });
}
