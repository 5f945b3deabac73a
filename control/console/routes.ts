// GET /console/… : the web console's static files, without a token (the page is the login form; every data call it
// makes carries the admin token). Exact file map, hashed assets cached immutably, index.html revalidated, 404 else.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ProblemError } from '../errors.js';
import { sendProblem } from '../plugins/app/error-handler.js';
import { CONSOLE_HEADERS } from './headers.js';
import { findConsoleDir, readConsoleFiles, type ConsoleFile } from './files.js';

export interface ConsoleRouteOptions {
  /** The built console; default: console/dist found from this module. */
  dir?: string;
}

export default async function consoleRoutes(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  const dir = opts.dir ?? findConsoleDir();
  const files = dir !== undefined && existsSync(join(dir, 'index.html')) ? readConsoleFiles(dir) : undefined;
  const config = { auth: 'public' as const };
  const schema = { hide: true };

  const send = (reply: FastifyReply, path: string) => {
    reply.headers(CONSOLE_HEADERS);
    if (files === undefined) {
      // Not the error handler's 503 (that one means the database is down).
      return sendProblem(reply, { status: 503, detail: 'the console is not built: run `node scripts/build.mjs console` (`npm start` and `npm run build` do it) and restart the control service' });
    }
    const file: ConsoleFile | undefined = files.get(path);
    if (file === undefined) throw new ProblemError(404, 'Not Found', `no console file '${path}'`);
    return reply.header('content-type', file.contentType).header('cache-control', file.cacheControl).send(file.body);
  };

  // /console → /console/ so relative URLs and the hash routes resolve under it.
  app.get('', { config, schema }, async (_req, reply) => reply.headers(CONSOLE_HEADERS).redirect('/console/', 308));
  app.get('/', { config, schema, prefixTrailingSlash: 'slash' }, async (_req, reply) => send(reply, 'index.html'));
  app.get('/*', { config, schema }, async (req, reply) => send(reply, (req.params as { '*': string })['*']));
}
