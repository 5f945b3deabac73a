// What the admin CLI prints: aligned tables (a few lines by hand; no table library is a dependency), key/value
// views, and problem+json as a person reads it. Pure.
import type { Problem } from './client.js';

export type Cell = string | number | boolean | null | undefined;

const text = (c: Cell): string => (c === null || c === undefined ? '-' : String(c));

/** Columns padded to their widest cell; a header row in capitals. */
export function table(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = [columns.map((c) => c.toUpperCase()), ...rows.map((r) => r.map(text))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** One `field: value` line per field (arrays joined, objects as JSON). */
export function fields(o: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(o).map((k) => k.length));
  return Object.entries(o).map(([k, v]) => {
    const shown = v === null || v === undefined ? '-' : Array.isArray(v) ? (v.length === 0 ? '-' : v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', '))
      : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return `${`${k}:`.padEnd(width + 1)} ${shown}`;
  }).join('\n') + '\n';
}

/**
 * "error: Not Found (404): api 'x' does not exist"; with a list of errors, one indented line each instead of the
 * detail (which only joins them).
 */
export function formatProblem(status: number, p: Problem): string {
  const title = p.title ?? 'Error';
  const listed = (p.errors ?? []).length > 0;
  const lines = [`error: ${title} (${status})${!listed && p.detail !== undefined && p.detail !== title ? `: ${p.detail}` : ''}`];
  for (const e of p.errors ?? []) lines.push(`  - ${e.path ?? e.pointer ?? ''}${e.path ?? e.pointer ? ': ' : ''}${e.message}`);
  return lines.join('\n') + '\n';
}
