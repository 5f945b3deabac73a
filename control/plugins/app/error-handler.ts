// The one error handler: every failure leaves as RFC 9457 application/problem+json.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ConflictError, InvalidFieldError, NotFoundError, ProblemError } from '../../errors.js';
import { isStoreUnavailable } from '../../store/unavailable.js';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: { path: string; message: string }[];
}

/** RFC 9110's phrases where Node still has the older ones (413 Payload Too Large, 422 Unprocessable Entity). */
const PHRASES: Record<number, string> = { 413: 'Content Too Large', 422: 'Unprocessable Content' };

/** The title of an `about:blank` problem: the status phrase (RFC 9457 §4.2.1), never a description of this case. */
export function statusPhrase(status: number): string {
  return PHRASES[status] ?? STATUS_CODES[status] ?? (status < 500 ? 'Client Error' : 'Server Error');
}

/**
 * Every problem reply is `about:blank`, so the title follows from the status; what went wrong belongs in `detail`.
 * A caller's `title` is ignored for that reason (kept in the signature so existing callers still compile).
 */
export function sendProblem(reply: FastifyReply, body: Omit<ProblemBody, 'type' | 'title'> & { title?: string }): FastifyReply {
  const { title: _ignored, ...rest } = body;
  const problem: ProblemBody = { type: 'about:blank', title: statusPhrase(rest.status), ...rest };
  return reply.code(problem.status).type('application/problem+json').serializer(JSON.stringify).send(problem);
}

function toProblem(err: FastifyError | Error): Omit<ProblemBody, 'type' | 'title'> {
  if (err instanceof NotFoundError) return { status: 404, detail: err.message };
  if (err instanceof ConflictError) return { status: 409, detail: err.message };
  if (err instanceof ProblemError) return { status: err.status, detail: err.message };
  if (err instanceof InvalidFieldError) return { status: 400, detail: err.message, errors: [{ path: err.path, message: err.reason }] };
  const fe = err as FastifyError;
  if (fe.validation !== undefined) {
    return {
      status: 400,
      detail: fe.message,
      errors: fe.validation.map((v) => ({
        path: `${fe.validationContext ?? ''}${v.instancePath}`,
        message: v.keyword === 'additionalProperties'
          ? `unknown field '${String((v.params as { additionalProperty?: string }).additionalProperty)}'`
          : v.message ?? v.keyword,
      })),
    };
  }
  if (isStoreUnavailable(err)) return { status: 503, detail: 'the database is unreachable; try again shortly' };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, detail: fe.message };
  }
  return { status: 500, detail: 'the service failed; see its log' };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const problem = toProblem(err);
    if (problem.status === 503) {
      request.log.warn({ err: err.message }, 'database unreachable');
      void reply.header('retry-after', '1');
    } else if (problem.status >= 500) request.log.error({ err }, 'request failed');
    return sendProblem(reply, { ...problem, instance: request.url.split('?')[0] });
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, { status: 404, detail: `no route ${request.method} ${request.url.split('?')[0]}` }));
}
