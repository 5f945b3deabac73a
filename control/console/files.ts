// The console's built files (console/dist) as an exact map, read once at start: a request path is looked up, never
// joined onto the file system, so no path (../, %2e%2e, absolute, symlink) can reach anything else. Pure helpers
// decide content type and caching.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ConsoleFile { body: Buffer; contentType: string; cacheControl: string }

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Content type by extension; undefined for a kind of file the console never ships (it is then not served). */
export function contentTypeOf(path: string): string | undefined {
  return CONTENT_TYPES[extname(path).toLowerCase()];
}

/** Vite names bundled assets `<name>-<content hash>.<ext>`: a new build gets new names, so they can be cached forever. */
const HASHED = /^assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

export function cacheControlOf(path: string): string {
  return HASHED.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/** Every servable file under dir, keyed by its '/'-separated path relative to dir. Symlinks and dotfiles are skipped. */
export function readConsoleFiles(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) {
        const contentType = contentTypeOf(rel);
        if (contentType !== undefined) files.set(rel, { body: readFileSync(join(dir, rel)), contentType, cacheControl: cacheControlOf(rel) });
      }
    }
  };
  walk('');
  return files;
}

/**
 * Where the built console is: console/dist at the repository root, seen from this module when run from source
 * (control/console/) or from the bundle (dist/control.js). Undefined when it has not been built.
 */
export function findConsoleDir(): string | undefined {
  const candidates = ['../../console/dist', '../console/dist'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((dir) => existsSync(join(dir, 'index.html')) && statSync(dir).isDirectory());
}
