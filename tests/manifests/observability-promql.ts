// Test helper: the metric names a PromQL expression reads. Node has no PromQL parser (the reference one is Go, the
// Grafana one a Lezer grammar that is not installed); promtool checks that each expression parses, and this scanner
// only has to find the bare identifiers that are metric names — skipping strings, label matchers {…}, ranges […],
// durations, function and aggregation calls, keywords, and the label lists after by/without/on/ignoring/group_*.

const LABEL_LIST_BEFORE = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'offset', 'and', 'or', 'unless', 'atan2', 'inf', 'nan']);
// Aggregation operators may be followed by `by (…)` before their parenthesis, so "next char is (" misses them.
const AGGREGATORS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);

/** Index just past the bracket that closes the one at `start`, skipping quoted strings inside. */
function skipBracketed(expr: string, start: number, open: string, close: string): number {
  let depth = 0;
  for (let i = start; i < expr.length; i++) {
    const c = expr[i] as string;
    if (c === '"' || c === "'" || c === '`') i = skipString(expr, i) - 1;
    else if (c === open) depth++;
    else if (c === close && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced ${open} in ${expr}`);
}

function skipString(expr: string, start: number): number {
  const quote = expr[start];
  for (let i = start + 1; i < expr.length; i++) {
    if (expr[i] === '\\' && quote !== '`') i++;
    else if (expr[i] === quote) return i + 1;
  }
  throw new Error(`unterminated string in ${expr}`);
}

function skipSpace(expr: string, i: number): number {
  while (i < expr.length && /\s/.test(expr[i] as string)) i++;
  return i;
}

/** The metric names an expression selects, sorted, each once. */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') i = skipString(expr, i);
    else if (c === '{') i = skipBracketed(expr, i, '{', '}');
    else if (c === '[') i = skipBracketed(expr, i, '[', ']');
    else if (/[0-9.]/.test(c)) {
      // Numbers and durations (5m, 1h30m, 1e3, 0x1F).
      while (i < expr.length && /[0-9a-zA-Z_.]/.test(expr[i] as string)) i++;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const start = i;
      while (i < expr.length && /[a-zA-Z0-9_:]/.test(expr[i] as string)) i++;
      const word = expr.slice(start, i);
      const lower = word.toLowerCase();
      const next = skipSpace(expr, i);
      if (LABEL_LIST_BEFORE.has(lower)) {
        if (expr[next] === '(') i = skipBracketed(expr, next, '(', ')');
      } else if (expr[next] !== '(' && !KEYWORDS.has(lower) && !AGGREGATORS.has(lower)) names.add(word);
    } else i++;
  }
  return [...names].sort();
}

/**
 * Grafana's `label_values(metric, label)` / `label_values(label)` template queries: the metric selector part, or
 * undefined for the label-only form. Anything else is taken as PromQL.
 */
export function templateQueryExpr(query: string): string | undefined {
  const m = /^\s*label_values\(\s*(?:(.+?)\s*,\s*)?[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$/.exec(query);
  if (m === null) return query;
  return m[1];
}

/**
 * A Grafana expression with its template variables replaced by values PromQL accepts, for promtool to parse:
 * interval variables by a duration, others (used inside label matchers) by a regex.
 */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$\{?__(rate_interval|interval|range)\}?/g, '5m')
    .replace(/\$\{?[a-zA-Z_][a-zA-Z0-9_]*(:[a-z]+)?\}?/g, '.+');
}
