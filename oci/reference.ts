// Image references as docker and Istio write them: `<registry>/<repository>:<tag>`, e.g. `ghcr.io/acme/tollgate:1.0`.

export interface ImageReference {
  /** Host[:port] as written; `docker.io` when the reference names no registry. */
  registry: string;
  repository: string;
  tag: string;
}

// From the OCI distribution spec's grammar.
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export function parseReference(input: string): ImageReference {
  const text = input.replace(/^oci:\/\//, '');
  if (text.includes('@')) throw new Error(`'${input}': publish needs a tag, not a digest reference`);
  const slash = text.indexOf('/');
  const first = slash < 0 ? '' : text.slice(0, slash);
  // Like docker: the first component is a registry only if it looks like a host.
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  const registry = hasRegistry ? first : 'docker.io';
  let rest = hasRegistry ? text.slice(slash + 1) : text;
  let tag = 'latest';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const repository = registry === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest;
  if (!REPOSITORY.test(repository)) throw new Error(`'${input}': invalid repository name '${repository}'`);
  if (!TAG.test(tag)) throw new Error(`'${input}': invalid tag '${tag}'`);
  return { registry, repository, tag };
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}:${ref.tag}`;
}

/** The host that serves the distribution API (Docker Hub's differs from its reference name). */
export function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

export function isLoopbackHost(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
