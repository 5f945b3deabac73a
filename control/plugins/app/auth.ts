// Bearer-token guard for every route: the admin token for the admin API, the report token for what proxies call,
// nothing for health and metrics. Routes opt out with config.auth; the default is the strictest.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { digestOf, matchesDigest } from '../../key-material.js';
import { ProblemError } from '../../errors.js';

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export function registerAuth(app: FastifyInstance): void {
  const reportDigest = digestOf(app.tokens.reportToken);
  app.addHook('onRequest', async (request, reply) => {
    const mode = request.routeOptions.config?.auth ?? 'admin';
    // Unknown routes answer 404 to anyone: there is nothing behind them to protect.
    if (mode === 'public' || request.is404) return;
    const token = bearer(request);
    if (token === undefined) {
      reply.header('www-authenticate', 'Bearer');
      throw new ProblemError(401, 'Unauthorized', 'missing bearer token');
    }
    const ok = mode === 'admin'
      ? app.tokens.adminDigests.some((d) => matchesDigest(token, d))
      : matchesDigest(token, reportDigest);
    if (!ok) {
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
      throw new ProblemError(401, 'Unauthorized', `invalid ${mode} token`);
    }
  });
}
