// HTTP to the control service for the admin CLI: JSON in and out, problem+json turned into an error that says what the
// service said (exit 1), and a service that cannot be reached into one that says so (exit 3).
import type { Connection } from './config.js';

export interface Problem { type?: string; title?: string; status?: number; detail?: string; errors?: { path?: string; pointer?: string; message: string }[] }

/** The service answered with an error (exit 1). */
export class ProblemError extends Error {
  constructor(readonly status: number, readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

/** The service could not be reached, or did not answer in time (exit 3). */
export class UnreachableError extends Error {}

const TIMEOUT_MS = Number(process.env.TOLLGATE_CLI_TIMEOUT_MS ?? 30_000);

async function send(conn: Connection, method: string, path: string, body?: unknown, timeout = true): Promise<Response> {
  try {
    return await fetch(`${conn.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${conn.token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(timeout ? { signal: AbortSignal.timeout(TIMEOUT_MS) } : {}),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new UnreachableError(`cannot reach the control service at ${conn.url} (${why})`);
  }
}

async function problemOf(res: Response): Promise<ProblemError> {
  const text = await res.text().catch(() => '');
  let problem: Problem;
  try {
    const parsed = JSON.parse(text) as unknown;
    problem = typeof parsed === 'object' && parsed !== null ? parsed as Problem : { detail: text };
  } catch {
    problem = { title: res.statusText, ...(text.trim() !== '' ? { detail: text.trim().slice(0, 500) } : {}) };
  }
  return new ProblemError(res.status, problem);
}

/** The JSON reply (null for 204), or a ProblemError / UnreachableError. */
export async function call<T = unknown>(conn: Connection, method: string, path: string, body?: unknown): Promise<T> {
  const res = await send(conn, method, path, body);
  if (!res.ok) throw await problemOf(res);
  if (res.status === 204) return null as T;
  try {
    return await res.json() as T;
  } catch (err) {
    throw new UnreachableError(`the reply from ${conn.url}${path} was cut off or not JSON (${(err as Error).message})`);
  }
}

/** Every item of a paged list (`items`, `nextCursor`). */
export async function listAll<T>(conn: Connection, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: { items: T[]; nextCursor: string | null } = await call(conn, 'GET', `${path}${sep}limit=500${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return items;
}

/** A streamed reply (no timeout: an export may run long), written to `out` chunk by chunk as it arrives. */
export async function streamTo(conn: Connection, path: string, out: NodeJS.WritableStream): Promise<void> {
  const res = await send(conn, 'GET', path, undefined, false);
  if (!res.ok) throw await problemOf(res);
  if (res.body === null) return;
  try {
    for await (const chunk of res.body) {
      if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
    }
  } catch (err) {
    throw new UnreachableError(`the export from ${conn.url} was cut off (${(err as Error).message}); resume with --cursor <the last row's cursor>`);
  }
}
