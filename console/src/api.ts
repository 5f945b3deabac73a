// The one way the console talks to the control service: same origin, the admin token as a bearer token on every data
// call, problem+json errors turned into ApiError (docs/control.md). No other origin is ever contacted.
import type { Page } from './types';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** `as: 'text'` returns the body as text (NDJSON and CSV replies); the default parses JSON. */
export type Api = <T>(method: string, path: string, body?: unknown, as?: 'json' | 'text') => Promise<T>;

/** A client bound to a token; `onUnauthorized` runs on any 401 (the token was rotated or is wrong). */
export function apiClient(token: string, onUnauthorized: () => void): Api {
  return async <T>(method: string, path: string, body?: unknown, as: 'json' | 'text' = 'json'): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: as === 'json' ? 'application/json' : '*/*', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        credentials: 'omit',
      });
    } catch (err) {
      throw new ApiError(0, `the control service did not answer (${err instanceof Error ? err.message : String(err)})`);
    }
    const text = await res.text();
    if (!res.ok) {
      if (res.status === 401) onUnauthorized();
      throw new ApiError(res.status, problemMessage(res.status, text));
    }
    if (as === 'text') return text as T;
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
}

/** What a problem+json body says, in one line (RFC 9457: detail, else title). */
export function problemMessage(status: number, text: string): string {
  try {
    const p = JSON.parse(text) as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
    const listed = (p.errors ?? []).map((e) => `${e.path} ${e.message}`).join('; ');
    return `${status} ${p.detail ?? p.title ?? ''}${listed !== '' && !(p.detail ?? '').includes(listed) ? ` (${listed})` : ''}`.trim();
  } catch {
    return `${status} ${text.slice(0, 200)}`.trim();
  }
}

/** Every page of a paged list, up to `max` items (the console shows catalogues, not bulk exports). */
export async function allPages<T>(api: Api, path: string, max = 2000): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await api<Page<T>>('GET', `${path}${sep}limit=500${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null && items.length < max);
  return items;
}

/** The public OpenAPI document (no token): what this control service offers, for features that arrive later. */
export async function openApi(): Promise<unknown> {
  const res = await fetch('/openapi.json', { credentials: 'omit' });
  if (!res.ok) return undefined;
  return res.json();
}
