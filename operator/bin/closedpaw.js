#!/usr/bin/env node
// The `closedpaw` command of the npm package (also installed as `kubectl-closedpaw`, a kubectl plugin).
// Plain JavaScript so it runs on any Node and can say which Node it needs. In the package it loads the
// built CLI (dist/); in a checkout of the repository it runs the TypeScript sources on the project's
// own Node 24 (node_modules/.bin/node) when the Node that started it cannot strip types.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MINIMUM = [22, 13];
const here = dirname(fileURLToPath(import.meta.url));
const sources = join(here, '../src/cli/main.ts');
const built = join(here, '../../dist/cli/operator/src/cli/main.js');
const projectNode = join(here, '../../node_modules/.bin/node');
const [major, minor] = process.versions.node.split('.').map(Number);
const canStripTypes = Boolean(process.features?.typescript);

if (
  existsSync(sources) &&
  !canStripTypes &&
  existsSync(projectNode) &&
  process.env.CLOSEDPAW_REEXEC !== '1'
) {
  // A checkout, started by an older Node: hand over to the project's Node.
  const run = spawnSync(projectNode, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, CLOSEDPAW_REEXEC: '1' },
  });
  process.exit(run.status ?? (run.signal === 'SIGINT' ? 130 : 1));
}
if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
  process.stderr.write(
    `closedpaw needs Node.js ≥ ${MINIMUM.join('.')}; this is ${process.versions.node}: install a newer Node\n`,
  );
  process.exit(2);
}
const entry = existsSync(sources) && canStripTypes ? sources : built;
if (!existsSync(entry)) {
  process.stderr.write(`closedpaw: ${entry} is missing: run npm run build (or reinstall the package)\n`);
  process.exit(1);
}
await import(pathToFileURL(entry).href);
