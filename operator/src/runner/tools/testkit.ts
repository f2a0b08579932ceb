/** Temporary workspaces for the runner's tests: a workspace, a sibling "outside" with a secret, cleaned up after. */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

export const SECRET = 'top secret outside the workspace';

export interface Sandbox {
  /** Real path of the workspace. */
  workspace: string;
  /** A directory beside it, with `secret.txt`. */
  outside: string;
  /** `<workspace>-evil`: shares the workspace's name as a prefix. */
  prefixTwin: string;
}

export function makeSandbox(): Sandbox {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'closedpaw-runner-')));
  after(() => rmSync(base, { recursive: true, force: true }));
  const workspace = join(base, 'ws');
  const outside = join(base, 'outside');
  const prefixTwin = join(base, 'ws-evil');
  for (const dir of [workspace, outside, prefixTwin]) mkdirSync(dir);
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  writeFileSync(join(prefixTwin, 'secret.txt'), SECRET);
  return { workspace, outside, prefixTwin };
}
