// One error type for everything that goes wrong talking to a registry, with a kind the CLI and tests can tell apart.

export type RegistryErrorKind = 'auth' | 'unreachable' | 'tls' | 'protocol';

export class RegistryError extends Error {
  constructor(readonly kind: RegistryErrorKind, message: string) {
    super(message);
    this.name = 'RegistryError';
  }
}

interface ErrorWithCode {
  code?: unknown;
  cause?: unknown;
}

/** The first `code` down a chain of causes (undici wraps socket errors as `TypeError: fetch failed` + cause). */
export function errorCode(error: unknown): string | undefined {
  for (let e = error as ErrorWithCode | undefined, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as ErrorWithCode | undefined;
  }
  return undefined;
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;

/** Turn a fetch() network failure into a message that names the registry and says what to check. */
export function networkError(registry: string, url: string, error: unknown): RegistryError {
  const code = errorCode(error) ?? (error instanceof Error ? error.message : String(error));
  if (TLS_CODES.test(code)) {
    return new RegistryError('tls', `TLS to registry ${registry} failed (${code}) at ${url}; trust its CA with NODE_EXTRA_CA_CERTS=<pem file>, or use --insecure for a plain-HTTP loopback registry`);
  }
  return new RegistryError('unreachable', `registry ${registry} is unreachable at ${url} (${code})`);
}
