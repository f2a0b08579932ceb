/**
 * Confinement must hold where the runner really runs: the file-tool and shell
 * tests again, inside gVisor (`runsc --rootless do`). gVisor's file system differs
 * from Linux in ways that matter here — it follows a final symbolic link to a
 * directory even with O_NOFOLLOW when O_DIRECTORY is set — so the descriptor
 * check is what holds the line there. Skipped where runsc is not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const runsc = spawnSync('runsc', ['--version']).status === 0;

test('the confinement, file-tool and shell tests pass inside gVisor', {
  skip: !runsc && 'runsc is not installed',
}, () => {
  const here = import.meta.dirname;
  const result = spawnSync(
    'runsc',
    [
      '--rootless',
      '--network=none',
      'do',
      realpathSync(process.execPath),
      '--test',
      '--test-reporter=tap',
      join(here, 'confine.test.ts'),
      join(here, 'fs.test.ts'),
      join(here, 'shell.test.ts'),
    ],
    { encoding: 'utf8', timeout: 240_000, env: outsideTestRunner() },
  );
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /# fail 0/);
  assert.match(result.stdout, /# pass [1-9]\d+/);
});

/** This process's environment without the marker that makes a nested `node --test` report to its parent. */
function outsideTestRunner(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return env;
}
