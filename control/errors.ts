// Domain errors the store and services throw; the one error handler (plugins/app/error-handler.ts) maps them to
// RFC 9457 problem responses, so handlers never build error bodies themselves.
export class NotFoundError extends Error {
  constructor(readonly resource: string, readonly id: string) {
    super(`${resource} '${id}' does not exist`);
  }
}

export class ConflictError extends Error {}

export class ProblemError extends Error {
  constructor(readonly status: number, readonly title: string, detail: string) {
    super(detail);
  }
}
