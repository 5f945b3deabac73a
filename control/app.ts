// Builds the fastify app. Fixed load order: external plugins → app plugins (store, tokens, metrics, distribution,
// auth, errors) → routes.
import Fastify, { type FastifyInstance } from 'fastify';
import { AjvCompiler } from '@fastify/ajv-compiler';
import { composeCore, composeDistribution, sinksFor } from './compose.js';
import { registerSwagger } from './plugins/external/swagger.js';
import { registerAuth } from './plugins/app/auth.js';
import { registerErrorHandler } from './plugins/app/error-handler.js';
import { createMetrics } from './plugins/app/metrics.js';
import './plugins/app/decorations.js';
import type { ControlSettings } from './settings.js';
import { requestLogView } from './request-log.js';
import opsRoutes from './routes/ops/index.js';
import apiRoutes from './routes/v1/apis/index.js';
import planRoutes from './routes/v1/plans/index.js';
import consumerRoutes from './routes/v1/consumers/index.js';
import keyRoutes from './routes/v1/keys/index.js';
import usageRoutes from './routes/v1/usage/index.js';
import targetRoutes from './routes/v1/targets/index.js';
import distributionRoutes from './routes/v1/distribution/index.js';
import keyFeedRoutes from './routes/v1/keyfeed/index.js';
import keysBulkRoutes from './routes/v1/keys-bulk/index.js';
import creditRoutes from './routes/v1/credits/index.js';
import { FeedSweeper } from './keyfeed/sweeper.js';
import { composeDiscovery, dryRunDiscovery } from './discovery/compose.js';
import discoveryRoutes from './routes/v1/discovery/index.js';
import { registerFleet } from './fleet/register.js';
import consoleRoutes from './console/routes.js';

export interface BuildOptions {
  /** Where log lines go (tests capture them); default stdout. */
  logStream?: { write(line: string): void };
  /** Receives a generated admin token, the only time it is visible; default: printed to stdout. */
  announceAdminToken?: (token: string) => void;
}

/** How long shutdown waits for open connections before cutting them (see the preClose hook). */
export const DRAIN_MS = 1000;

/** Never log credentials, even if a future serializer adds headers. */
const REDACT = ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization'];

/**
 * Query strings and path parameters arrive as text, so they need type coercion ('10' → 10); JSON bodies are typed
 * already, and coercing them would accept {"name": 123} or {"requests": "5"} or a bare string for an array. Bodies get
 * their own Ajv instance (fastify's own compiler, same options) without coercion.
 */
function strictBodyValidators(): ReturnType<typeof AjvCompiler> {
  const fromPool = AjvCompiler();
  return (externalSchemas, options) => {
    const ajvOptions = (options ?? {}) as { customOptions?: Record<string, unknown> };
    const noCoercion = { ...ajvOptions, customOptions: { ...ajvOptions.customOptions, coerceTypes: false } };
    const strict = fromPool(externalSchemas, noCoercion as never);
    const coercing = fromPool(externalSchemas, options);
    return ((route: { httpPart?: string }) => (route.httpPart === 'body' ? strict : coercing)(route as never)) as never;
  };
}

export async function buildApp(settings: ControlSettings, options: BuildOptions = {}): Promise<FastifyInstance> {
  // First: a bad distribution setting must fail before anything is opened.
  const sinks = sinksFor(settings);
  const app = Fastify({
    logger: {
      level: settings.logLevel,
      redact: { paths: REDACT, censor: '[redacted]' },
      // Request lines carry the path only: query strings can hold credentials (control/request-log.ts).
      serializers: { req: requestLogView },
      ...(options.logStream !== undefined ? { stream: options.logStream } : {}),
    },
    // Unknown fields are errors, not silently stripped (removeAdditional: false).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    schemaController: { compilersFactory: { buildValidator: strictBodyValidators() } },
    bodyLimit: 1024 * 1024,
    forceCloseConnections: 'idle',
  });

  // External plugins.
  await registerSwagger(app);

  // App plugins: the parts come from the composition root (compose.ts).
  const announce = options.announceAdminToken ?? ((t: string): void => {
    process.stdout.write(`tollgate control: generated admin token (shown once, stored hashed): ${t}\n`);
  });
  const core = await composeCore(settings, announce);
  const { store } = core;
  const metrics = createMetrics();
  metrics.dropped.inc(await core.usage.droppedTotal());
  const distribution = composeDistribution(core, settings, sinks, app.log,
    (_v, sink, ok) => metrics.distributions.inc({ target: sink, result: ok ? 'ok' : 'error' }));
  const { distributor, local } = distribution;
  app.decorate('settings', settings);
  app.decorate('store', store);
  app.decorate('usage', core.usage);
  app.decorate('tokens', core.tokens);
  app.decorate('defaultTarget', core.defaultTarget);
  app.decorate('metrics', metrics);
  app.decorate('distributor', distributor);
  app.decorate('local', local);
  // Expired keys leave the key feed's set; the change log is pruned to its horizon (control/keyfeed/sweeper.ts).
  const sweeper = new FeedSweeper(store.keyFeed, app.log);
  // Service discovery (docs/discovery.md): off unless TOLLGATE_DISCOVERY=true.
  const discovery = composeDiscovery(store, settings, app.log);
  app.addHook('onReady', async () => {
    sweeper.start();
    discovery?.start();
    return distributor.distributeNow();
  });
  // Long polls must not hold shutdown for up to 30 s: release them before the server stops accepting.
  app.addHook('preClose', async () => {
    local?.close();
    // Fastify's close waits for every open connection to end, and a client that went away mid-request can leave a
    // server socket open for seconds (seen with aborted long polls: ~4 s; in the mesh the supervisor's 10 s SIGKILL
    // came first). Requests in flight get DRAIN_MS to finish; then the rest are cut. Nothing acknowledged is lost:
    // an acknowledgement is only sent after the write is durable, and an unacknowledged report is retried.
    setTimeout(() => app.server.closeAllConnections(), DRAIN_MS).unref();
  });
  // In this order: a pending redistribution still reads the store, and every acknowledged write is synced on close.
  app.addHook('onClose', async () => {
    await sweeper.stop();
    await discovery?.close();
    await distribution.close();
    await core.usage.close();
    await store.close();
  });

  // Clients often send content-type: application/json on bodiless POST/DELETE; treat an empty body as none
  // instead of failing with 400, and keep fastify's own (prototype-poisoning-safe) parser for everything else.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body.length === 0) done(null, undefined);
    else parseJson(req, body.toString(), done);
  });

  // Every body this API takes is JSON; fastify's default text/plain parser would turn a wrong content type into a
  // confusing 'body must be object' 400 instead of 415.
  app.removeContentTypeParser('text/plain');

  registerAuth(app);
  registerErrorHandler(app);

  // Routes.
  await app.register(opsRoutes);
  await app.register(apiRoutes, { prefix: '/v1/apis' });
  await app.register(planRoutes, { prefix: '/v1/plans' });
  await app.register(consumerRoutes, { prefix: '/v1/consumers' });
  await app.register(creditRoutes, { prefix: '/v1/consumers' });
  await app.register(keyRoutes, { prefix: '/v1/keys' });
  await app.register(usageRoutes, { prefix: '/v1/usage' });
  await app.register(distributionRoutes, { prefix: '/v1/distribution' });
  await app.register(targetRoutes, { prefix: '/v1/targets' });
  await app.register(keyFeedRoutes, { prefix: '/v1/keyfeed', changes: core.changes });
  await app.register(keysBulkRoutes, { prefix: '/v1' });
  await app.register(discoveryRoutes, { prefix: '/v1/discovery', running: discovery, planner: () => dryRunDiscovery(store, settings, app.log) });
  await registerFleet(app);
  await app.register(consoleRoutes, { prefix: '/console' });
  return app;
}
