// Starting and stopping the service: `startControl` for other parts' tests and the mesh, `serve` for the CLI
// (graceful shutdown on SIGTERM/SIGINT: stop accepting, finish in-flight requests, close the database).
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildOptions } from './app.js';
import { defaultSettings, type ControlSettings } from './settings.js';

export interface RunningControl {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  app: FastifyInstance;
  /** Admin token when the caller supplied or the service generated one in this process, else undefined. */
  adminToken: string | undefined;
  /** The default target's reporter credential as it was at start-up. */
  reportToken: string;
  close(): Promise<void>;
}

/**
 * Starts the control service. Unset settings take their defaults (not the environment), except that the listen
 * address defaults to 127.0.0.1 and the port to 0 (any free port) for tests.
 */
export async function startControl(settings: Partial<ControlSettings> = {}, options: BuildOptions = {}): Promise<RunningControl> {
  const full: ControlSettings = { ...defaultSettings(), host: '127.0.0.1', port: 0, ...settings };
  let generated: string | undefined;
  const app = await buildApp(full, { ...options, announceAdminToken: options.announceAdminToken ?? ((t) => { generated = t; }) });
  await app.listen({ host: full.host, port: full.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : full.port;
  const host = full.host === '0.0.0.0' || full.host === '::' ? '127.0.0.1' : full.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    app,
    adminToken: full.adminToken ?? generated,
    reportToken: app.defaultTarget.reportToken,
    close: () => app.close(),
  };
}

/** Runs until SIGTERM/SIGINT; resolves with the exit code once everything acknowledged is on disk. */
export async function serve(settings: ControlSettings): Promise<number> {
  const app = await buildApp(settings);
  try {
    await app.listen({ host: settings.host, port: settings.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        // A second signal while draining: the operator wants out now (anything acknowledged is already on disk).
        app.log.warn({ signal }, 'second signal: exiting without waiting for in-flight requests');
        process.exit(130);
      }
      stopping = true;
      app.log.info({ signal }, 'shutting down');
      app.close().then(() => resolve(0), (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        resolve(1);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
