// What the app decorates the fastify instance with, declared once for the type checker.
import type { Distributor } from '../../distribution/distributor.js';
import type { LocalTarget } from '../../distribution/targets/local.js';
import type { ControlSettings } from '../../settings.js';
import type { Store } from '../../store/repository.js';
import type { UsageService } from '../../usage/service.js';
import type { TargetWithCredentials } from '../../store/types.js';
import type { ControlMetrics } from './metrics.js';

export type AuthMode = 'admin' | 'report' | 'public';

export interface Tokens {
  /** SHA-256 digests of accepted admin tokens. */
  adminDigests: string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    settings: ControlSettings;
    store: Store;
    usage: UsageService;
    distributor: Distributor;
    local: LocalTarget | undefined;
    metrics: ControlMetrics;
    tokens: Tokens;
    /** The default target as it was at start-up (its credential, for the local mesh and tests). */
    defaultTarget: TargetWithCredentials;
  }
  interface FastifyRequest {
    /** On routes with auth 'report': the target whose reporter credential the request presented. */
    reporterTarget: TargetWithCredentials | undefined;
  }
  interface FastifyContextConfig {
    /** Who may call the route; routes without it need the admin token. */
    auth?: AuthMode;
  }
}
