// Request body bytes → the import's model: parsed (JSON/YAML, document.ts), checked against the OpenAPI 3.0/3.1
// schemas, then our rules (model.ts). Throws DocumentSyntaxError (400) or DocumentRefusedError (422, every problem
// with its pointer). Runs on the event loop for small documents and in a worker for large ones (parse-pool.ts): the
// same code either way, so errors and pointers are the same.
import { DocumentRefusedError, isRefProblem, openApiProblems, parseBody, type Syntax } from './document.js';
import { toModel, type ImportModel, type ModelOptions } from './model.js';

export async function readModel(body: Uint8Array, syntax: Syntax, options: ModelOptions): Promise<ImportModel> {
  const doc = parseBody(body, syntax);
  const problems = await openApiProblems(doc);
  if (problems.length > 0) {
    // The schema was met but a $ref does not resolve: our own rules still run, so every problem is listed at once.
    if (problems.length === 1 && isRefProblem(problems[0]!)) {
      try {
        toModel(doc as Record<string, unknown>, options);
      } catch (err) {
        if (!(err instanceof DocumentRefusedError)) throw err;
        const ours = err.problems;
        throw new DocumentRefusedError(ours.some(isRefProblem) ? ours : [...problems, ...ours]);
      }
    }
    throw new DocumentRefusedError(problems);
  }
  return toModel(doc as Record<string, unknown>, options);
}
