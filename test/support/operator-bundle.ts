/**
 * The operator bundle a test run starts (operator/src/vite.config.ts), built from the current sources into
 * a directory of its own: a run never exercises a stale build, and test files running side by side never
 * write over each other's files. The global setup builds it once per run and hands it to the test
 * processes in CLOSEDPAW_TEST_OPERATOR_MAIN; a process without one (a benchmark) builds its own.
 */
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCommand } from '../../hack/cluster/processes.ts';

const ROOT = join(import.meta.dirname, '../..');

export async function buildOperatorBundle(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'closedpaw-operator-bundle-'));
  const vite = join(ROOT, 'node_modules/.bin/vite');
  const config = join(ROOT, 'operator/src/vite.config.ts');
  const r = await runCommand(vite, ['build', '--config', config, '--outDir', outDir, '--logLevel', 'warn'], {
    cwd: ROOT,
  });
  if (r.code !== 0) throw new Error(`bundling the operator failed:\n${r.stdout}${r.stderr}`);
  return join(outDir, 'main.js');
}

/** Removes a bundle buildOperatorBundle wrote. */
export function removeOperatorBundle(main: string): void {
  rmSync(dirname(main), { recursive: true, force: true });
}

let built: Promise<string> | undefined;
/** The bundle of this run (from the global setup), or one built once for this process and removed at its exit. */
export function operatorBundle(): Promise<string> {
  const fromSetup = process.env.CLOSEDPAW_TEST_OPERATOR_MAIN;
  built ??= fromSetup
    ? Promise.resolve(fromSetup)
    : buildOperatorBundle().then((main) => {
        process.once('exit', () => removeOperatorBundle(main));
        return main;
      });
  return built;
}
