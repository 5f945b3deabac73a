// The one error handler: every failure leaves as RFC 9457 application/problem+json.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ConflictError, NotFoundError, ProblemError } from '../../errors.js';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: { path: string; message: string }[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function sendProblem(reply: FastifyReply, body: Omit<ProblemBody, 'type' | 'title'> & { title?: string }): FastifyReply {
  const problem: ProblemBody = { type: 'about:blank', title: body.title ?? TITLES[body.status] ?? 'Error', ...body };
  return reply.code(problem.status).type('application/problem+json').serializer(JSON.stringify).send(problem);
}

function toProblem(err: FastifyError | Error): Omit<ProblemBody, 'type'> {
  if (err instanceof NotFoundError) return { status: 404, title: 'Not Found', detail: err.message };
  if (err instanceof ConflictError) return { status: 409, title: 'Conflict', detail: err.message };
  if (err instanceof ProblemError) return { status: err.status, title: err.title, detail: err.message };
  const fe = err as FastifyError;
  if (fe.validation !== undefined) {
    return {
      status: 400,
      title: 'Invalid request',
      detail: fe.message,
      errors: fe.validation.map((v) => ({
        path: `${fe.validationContext ?? ''}${v.instancePath}`,
        message: v.keyword === 'additionalProperties'
          ? `unknown field '${String((v.params as { additionalProperty?: string }).additionalProperty)}'`
          : v.message ?? v.keyword,
      })),
    };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, title: TITLES[fe.statusCode] ?? 'Client Error', detail: fe.message };
  }
  return { status: 500, title: 'Internal Server Error', detail: 'the service failed; see its log' };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const problem = toProblem(err);
    if (problem.status >= 500) request.log.error({ err }, 'request failed');
    return sendProblem(reply, { ...problem, instance: request.url.split('?')[0] });
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, { status: 404, detail: `no route ${request.method} ${request.url.split('?')[0]}` }));
}
