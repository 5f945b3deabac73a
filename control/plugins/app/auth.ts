// Bearer-token guard for every route: the admin token for the admin API, a target's reporter credential for what
// proxies call (the request then carries that target), nothing for health and metrics. Routes opt out with
// config.auth; the default is the strictest.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { matchesDigest } from '../../key-material.js';
import { targetForToken } from '../../reporter-credentials.js';
import { ProblemError } from '../../errors.js';

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export function registerAuth(app: FastifyInstance): void {
  app.decorateRequest('reporterTarget', undefined);
  app.addHook('onRequest', async (request, reply) => {
    const mode = request.routeOptions.config?.auth ?? 'admin';
    // Unknown routes answer 404 to anyone: there is nothing behind them to protect.
    if (mode === 'public' || request.is404) return;
    const token = bearer(request);
    if (token === undefined) {
      reply.header('www-authenticate', 'Bearer');
      throw new ProblemError(401, 'Unauthorized', 'missing bearer token');
    }
    let ok: boolean;
    if (mode === 'admin') ok = app.tokens.adminDigests.some((d) => matchesDigest(token, d));
    else {
      request.reporterTarget = targetForToken(await app.store.targets.all(), token, Math.floor(Date.now() / 1000));
      ok = request.reporterTarget !== undefined;
    }
    if (!ok) {
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
      throw new ProblemError(401, 'Unauthorized', `invalid ${mode} token`);
    }
  });
}
