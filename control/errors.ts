// Domain errors the store and services throw; the one error handler (plugins/app/error-handler.ts) maps them to
// RFC 9457 problem responses, so handlers never build error bodies themselves.
export class NotFoundError extends Error {
  constructor(readonly resource: string, readonly id: string) {
    super(`${resource} '${id}' does not exist`);
  }
}

export class ConflictError extends Error {}

/**
 * A problem with its status and detail. Replies are `type: about:blank`, whose title must be the status phrase
 * (RFC 9457 §4.2.1), so `title` is only a label for readers of the code and the log: what went wrong goes in `detail`.
 */
export class ProblemError extends Error {
  constructor(readonly status: number, readonly title: string, detail: string) {
    super(detail);
  }
}

/** A request field that passed the schema but breaks a rule the schema cannot say (400, listed in `errors`). */
export class InvalidFieldError extends Error {
  /** `path` as schema errors spell it: `body/pathPrefix`, `body/hosts/0`. */
  constructor(readonly path: string, readonly reason: string) {
    super(`${path} ${reason}`);
  }
}
