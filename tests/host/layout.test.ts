// host/'s import graph: no module may import itself back through any chain (the rooms abi/, runtime/, http/ and
// replay/ only mean something if their files form layers). Type-only imports count too: a circle of types still ties
// two files together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const hostDir = join(root, 'host');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Relative imports and re-exports of one file, as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), `${s}.ts`));
}

/** Every elementary cycle's first occurrence, found by depth-first search (the graph is a few dozen files). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (state.get(node) === undefined) visit(node);
  return cycles;
}

test('the cycle finder reports a two-file circle and passes a chain', () => {
  assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', ['a']]])), [['a', 'b', 'a']]);
  assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', []]])), []);
});

test('host/ has no import circles', () => {
  const files = sources(hostDir);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.startsWith(hostDir))]));
  for (const targets of graph.values()) {
    for (const t of targets) assert.ok(graph.has(t), `import of a missing file ${relative(root, t)}`);
  }
  const cycles = findCycles(graph).map((c) => c.map((f) => relative(root, f)).join(' → '));
  assert.deepEqual(cycles, []);
});
