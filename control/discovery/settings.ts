// Parsing discovery's settings (the variables are listed in control/settings.ts with the rest).
export class DiscoverySettingError extends Error {}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function parseBoolean(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'on', 'yes'].includes(v)) return true;
  if (['0', 'false', 'off', 'no'].includes(v)) return false;
  throw new DiscoverySettingError(`${name}: expected true or false, got '${raw}'`);
}

/** A comma list of namespace names (DNS labels), at least one, no duplicates; `*` is refused (least privilege). */
export function parseNamespaces(name: string, raw: string): string[] {
  const list = raw.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (list.length === 0) throw new DiscoverySettingError(`${name}: name at least one namespace`);
  for (const ns of list) {
    if (!DNS_LABEL.test(ns)) throw new DiscoverySettingError(`${name}: '${ns}' is not a namespace name${ns === '*' ? ' (every namespace is not offered: list them)' : ''}`);
  }
  if (new Set(list).size !== list.length) throw new DiscoverySettingError(`${name}: a namespace is listed twice`);
  return list;
}

/** An annotation prefix: a DNS subdomain and a '/', e.g. tollgate.dev/ (the '/' is added when missing). */
export function parseAnnotationPrefix(name: string, raw: string): string {
  const p = raw.trim().endsWith('/') ? raw.trim() : `${raw.trim()}/`;
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/$/.test(p)) throw new DiscoverySettingError(`${name}: expected a DNS subdomain such as tollgate.dev/, got '${raw}'`);
  return p;
}
