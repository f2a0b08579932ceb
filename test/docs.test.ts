/**
 * The docs name only what exists: every file or folder they put in backticks is in the tree (a bare name
 * such as `rest.ts` may live in any folder, as the architecture map names modules under their section),
 * every `npm run X` is a script, every `closedpaw VERB` a verb of the CLI. A rename that leaves a doc behind
 * fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../hack/cluster/processes.ts';
import { VERBS } from '../operator/src/cli/verbs.ts';

const ROOT = join(import.meta.dirname, '..');
const DOCS = ['README.md', 'docs/architecture.md', 'docs/audit.md', 'charts/closedpaw/README.md'];
const read = (doc: string) => readFileSync(join(ROOT, doc), 'utf8');

/** Paths in backticks: a word that ends in a known extension or in `/`, made of path characters only. */
function namedPaths(markdown: string): string[] {
  const paths = new Set<string>();
  for (const [, code] of markdown.matchAll(/`([^`\n]+)`/g)) {
    for (const word of code!.split(/\s+/)) {
      if (!/^[\w.-][\w./-]*$/.test(word)) continue; // not a relative path (URLs, ~, absolute, options)
      if (/\.(ts|tsx|mjs|yaml|json|md)$/.test(word) || (word.endsWith('/') && word.length > 1))
        paths.add(word);
    }
  }
  return [...paths];
}

/** Whether `path` names a tracked file or folder, at the root or (as a suffix) below some folder. */
function inTree(path: string, files: readonly string[]): boolean {
  const dir = path.endsWith('/');
  return files.some((file) => {
    const candidate = `/${file}`;
    return dir ? candidate.includes(`/${path}`) : candidate.endsWith(`/${path}`);
  });
}

/** Built outputs the docs describe; they are not tracked. */
const BUILT = /^(dist|ui\/dist)\//;
/** Named on purpose and not ours to track: the team's notes beside the repository, a file the user exports. */
const OUTSIDE = new Set(['shared/notes/architecture.md', 'audit-pub.json']);

test('namedPaths and inTree: what counts as a path, and how it is found', () => {
  assert.deepEqual(
    namedPaths('`k8s/rest.ts` and `node hack/a.ts --x` `~/.cache/x/` `/workspace` `https://a/`'),
    ['k8s/rest.ts', 'hack/a.ts'],
  );
  const files = ['operator/src/k8s/rest.ts', 'crds/a.yaml'];
  assert.equal(inTree('rest.ts', files), true);
  assert.equal(inTree('k8s/rest.ts', files), true);
  assert.equal(inTree('k8s/', files), true);
  assert.equal(inTree('crds/', files), true);
  assert.equal(inTree('est.ts', files), false, 'a whole name, not a tail of one');
  assert.equal(inTree('gone.ts', files), false);
});

test('every file and folder the docs name exists', async () => {
  const listed = await runCommand('git', ['ls-files'], { cwd: ROOT });
  assert.equal(listed.code, 0, listed.stderr);
  const files = listed.stdout.split('\n').filter(Boolean);
  const missing = DOCS.flatMap((doc) =>
    namedPaths(read(doc))
      .filter((path) => !BUILT.test(path) && !OUTSIDE.has(path) && !inTree(path, files))
      .map((path) => `${doc}: ${path}`),
  );
  assert.deepEqual(missing, []);
});

test('every `npm run X` is a script and every `closedpaw VERB` a verb', () => {
  const scripts = Object.keys(JSON.parse(read('package.json')).scripts as Record<string, string>);
  const verbs: readonly string[] = VERBS;
  const wrong = DOCS.flatMap((doc) => {
    const text = read(doc);
    const runs = [...text.matchAll(/npm run (?:-s )?([\w:.-]+)/g)].map((m) => m[1]!);
    const commands = [...text.matchAll(/`closedpaw ([a-z-]+)/g)].map((m) => m[1]!);
    return [
      ...runs.filter((s) => !scripts.includes(s)).map((s) => `${doc}: npm run ${s}`),
      ...commands.filter((v) => !verbs.includes(v)).map((v) => `${doc}: closedpaw ${v}`),
    ];
  });
  assert.deepEqual(wrong, []);
});
