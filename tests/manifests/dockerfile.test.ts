// control/Dockerfile cannot be built here (no container runtime), so check what can be checked statically: base
// image, non-root user matching the Deployment, the addon version pinned to package-lock, the bundle as the command,
// and a build context that ships only the bundle.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { findOne, loadObjects } from './load-manifests.js';

const root = new URL('../../', import.meta.url).pathname;
const dockerfile = readFileSync(`${root}control/Dockerfile`, 'utf8');
const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

test('multi-stage on node:20-slim, running dist/control.js as the last instruction', () => {
  const froms = instructions.filter((l) => l.startsWith('FROM '));
  assert.ok(froms.length >= 2);
  for (const from of froms) assert.match(from, /^FROM node:20-slim\b/);
  assert.equal(instructions.at(-1), 'CMD ["node", "dist/control.js"]');
  assert.ok(instructions.includes('COPY dist/control.js /app/dist/control.js'));
});

test('better-sqlite3 is installed at the version package-lock.json pins', () => {
  const lock = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')) as { packages: Record<string, { version: string }> };
  const version = lock.packages['node_modules/better-sqlite3']?.version;
  assert.ok(version !== undefined);
  assert.match(dockerfile, new RegExp(`npm install --omit=dev [^\\n]*better-sqlite3@${version.replace(/\./g, '\\.')}\\b`));
});

test('the final stage runs as the numeric non-root user the Deployment expects', () => {
  const finalStage = instructions.slice(instructions.findLastIndex((l) => l.startsWith('FROM ')));
  const user = finalStage.find((l) => l.startsWith('USER '));
  assert.ok(user !== undefined, 'no USER in the final stage');
  const uid = Number(/^USER (\d+)/.exec(user)?.[1]);
  assert.ok(uid > 0);
  const deployment = findOne(loadObjects(), 'Deployment') as unknown as { spec: { template: { spec: { securityContext: { runAsUser: number } } } } };
  assert.equal(deployment.spec.template.spec.securityContext.runAsUser, uid);
  assert.match(dockerfile, /EXPOSE 7070/);
});

test('.dockerignore sends only the bundle and the built console as build context', () => {
  const lines = readFileSync(`${root}.dockerignore`, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  assert.deepEqual(lines, ['*', '!dist/control.js', '!console/dist']);
});

test('the image carries the console where the bundle looks for it (../console/dist next to dist/control.js)', () => {
  assert.ok(instructions.includes('COPY console/dist /app/console/dist'));
  const files = readFileSync(`${root}control/console/files.ts`, 'utf8');
  assert.match(files, /'\.\.\/console\/dist'/);
});
