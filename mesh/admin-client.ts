// A minimal client for the control service's admin REST API (what a user would do with curl), used to seed the demo.

export class AdminApiError extends Error {
  override name = 'AdminApiError';
  constructor(message: string, readonly status: number, readonly body: unknown) {
    super(message);
  }
}

export interface AdminClient {
  call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
}

export function adminClient(controlUrl: string, adminToken: string): AdminClient {
  return {
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await fetch(new URL(path, controlUrl), {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      const parsed: unknown = text === '' ? undefined : JSON.parse(text);
      if (!res.ok) {
        const detail = (parsed as { detail?: string; title?: string } | undefined)?.detail ?? (parsed as { title?: string } | undefined)?.title ?? text.slice(0, 200);
        throw new AdminApiError(`${method} ${path} → ${res.status}: ${detail}`, res.status, parsed);
      }
      return parsed as T;
    },
  };
}
