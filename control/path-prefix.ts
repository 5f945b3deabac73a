// Which API path prefixes REST accepts: only those written the way the filter sees a request path after it has
// normalized it (assembly/http/path.ts) and cut it at `?`/`#` (assembly/match.ts). The filter compares the prefix
// byte for byte with that normalized path, so a prefix in any other spelling (`//x`, `/%6Frders`, `/x%2F`, `/a/../b`,
// `/x?y`, `/a;v`) would be stored and shipped yet never match, leaving the API it names unprotected.
//
// The rule (docs/control.md): RFC 3986 path characters only, ASCII.
// - starts with `/`, no `//`, no `.` or `..` segment (also not as the last segment: write `/.well-known`, not `/.`);
// - raw characters: letters, digits, `-._~`, `!$&'()*+,=:@` and `/`. Not `;` (the filter drops `;` path parameters
//   before matching), `?`, `#`, `\`, `%` alone, spaces, control characters, other ASCII punctuation or non-ASCII:
//   anything else must be percent-encoded;
// - escapes are `%` + two uppercase hex digits (RFC 3986's normal form; the filter keeps such escapes as they are,
//   so `%2a` would never match a request's `%2A`), and never of an unreserved character (the filter decodes those:
//   write the character) nor of `/` or `\` (the filter reads those as `/`).

const RAW = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const MAX_BYTES = 1024;

const show = (c: string): string => JSON.stringify(c);

/** Why `prefix` can never match a normalized request path, or null when it is in normalized form. */
export function pathPrefixProblem(prefix: string): string | null {
  if (!prefix.startsWith('/')) return "must start with '/'";
  if (prefix.length > MAX_BYTES) return `must be at most ${MAX_BYTES} characters`;
  for (let i = 0; i < prefix.length; i++) {
    const c = prefix[i]!;
    if (c === '%') {
      const hex = prefix.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return `'%' at ${i} must start an escape of two hex digits (write '%25' for a literal '%')`;
      if (hex !== hex.toUpperCase()) return `escape '%${hex}' at ${i} must use uppercase hex ('%${hex.toUpperCase()}'): the filter matches escapes as written`;
      const decoded = String.fromCharCode(parseInt(hex, 16));
      if (UNRESERVED.test(decoded)) return `escape '%${hex}' at ${i} is decoded by the filter before matching: write ${show(decoded)}`;
      if (decoded === '/' || decoded === '\\') return `escape '%${hex}' at ${i} is read as '/' by the filter: it cannot be part of a path prefix`;
      i += 2;
      continue;
    }
    if (c === '/' && prefix[i + 1] === '/') return `'//' at ${i}: the filter merges slashes before matching`;
    if (!RAW.test(c)) {
      if (c === ';') return `';' at ${i}: the filter drops path parameters before matching`;
      if (c === '?' || c === '#') return `${show(c)} at ${i}: the filter matches the path without query or fragment`;
      if (c === '\\') return `'\\' at ${i}: the filter reads it as '/'`;
      return `${show(String.fromCodePoint(prefix.codePointAt(i)!))} at ${i} must be percent-encoded (uppercase hex, UTF-8 for non-ASCII)`;
    }
  }
  const dot = prefix.split('/').findIndex((segment) => segment === '.' || segment === '..');
  if (dot >= 0) return "must not contain a '.' or '..' segment: the filter refuses such paths";
  return null;
}
