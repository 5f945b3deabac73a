// What TOLLGATE_DB names: a PostgreSQL URL (postgres:// or postgresql://) or else a SQLite file, and how such a URL is
// printed. A URL can carry a password (in its userinfo or a `password` query parameter), and it must never reach a log,
// an error or `--help`: every place that shows the URL shows `redactDbUrl(url)`. Pure.

const POSTGRES_SCHEME = /^postgres(?:ql)?:\/\//i;

export function isPostgresUrl(value: string): boolean {
  return POSTGRES_SCHEME.test(value);
}

const MASK = '***';

/**
 * The URL with every password replaced by `***`: userinfo's password (`user:secret@`) and query parameters whose name
 * mentions a password (`?password=`, `sslpassword=`). Works on text that does not parse as a URL too (a typo must not
 * leak the secret in the error that reports it). Anything else (a file path) is returned unchanged.
 */
export function redactDbUrl(value: string): string {
  const scheme = POSTGRES_SCHEME.exec(value);
  if (scheme === null) return value;
  let rest = value.slice(scheme[0].length);
  const q = rest.indexOf('?');
  let query = q < 0 ? '' : rest.slice(q + 1);
  rest = q < 0 ? rest : rest.slice(0, q);
  // The last '@' ends the userinfo: an unencoded '@' or '/' inside a password still counts as part of it.
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) rest = `${userinfo.slice(0, colon)}:${MASK}${rest.slice(at)}`;
  }
  if (query !== '') {
    query = query.split('&').map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && /pass/i.test(decodeSafe(name)) ? `${name}=${MASK}` : pair;
    }).join('&');
  }
  return `${scheme[0]}${rest}${q < 0 ? '' : `?${query}`}`;
}

/** Every spelling of the URL's passwords as they might appear in a message (raw and percent-decoded). */
export function dbUrlSecrets(value: string): string[] {
  if (!isPostgresUrl(value)) return [];
  const secrets = new Set<string>();
  const rest = value.replace(POSTGRES_SCHEME, '');
  const q = rest.indexOf('?');
  const authority = q < 0 ? rest : rest.slice(0, q);
  const at = authority.lastIndexOf('@');
  const colon = at < 0 ? -1 : authority.slice(0, at).indexOf(':');
  if (colon >= 0) secrets.add(authority.slice(colon + 1, at));
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split('&')) {
      const eq = pair.indexOf('=');
      if (eq >= 0 && /pass/i.test(decodeSafe(pair.slice(0, eq)))) secrets.add(pair.slice(eq + 1));
    }
  }
  for (const s of [...secrets]) secrets.add(decodeSafe(s));
  return [...secrets].filter((s) => s !== '');
}

/** `text` with every password of `url` masked: for messages of errors raised while using the URL. */
export function scrubDbSecrets(text: string, url: string): string {
  let out = text;
  for (const s of dbUrlSecrets(url).sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
  return out;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
