/**
 * Debian packages the project's scripts need, installed by those scripts: as root they run apt-get (after
 * refreshing the package lists), otherwise they stop and print the exact command to run. One place for
 * `npm test`/`npm run dev` (hack/prerequisites.ts), `npm run node:up` (hack/node/prerequisites.ts) and the
 * image builder's inputs (hack/images/debs.ts).
 */
import { spawn } from 'node:child_process';
import { runCommand } from './cluster/processes.ts';

export const isRoot = () => process.getuid?.() === 0;

/** Whether `command` is on PATH. */
export async function onPath(command: string): Promise<boolean> {
  const result = await runCommand('sh', ['-c', `command -v ${command}`]).catch(() => undefined);
  return result?.code === 0;
}

function sh(script: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}); see the output above`)),
    );
  });
}

/** The command that installs `packages` (lists refreshed first: a fresh machine may have none). */
export const aptInstallCommand = (packages: readonly string[]) =>
  `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${packages.join(' ')}`;

/** Installs `packages` when root; otherwise throws with the exact command. `why` names what needs them. */
export async function aptInstall(
  packages: readonly string[],
  why: string,
  log: (m: string) => void,
): Promise<void> {
  const unique = [...new Set(packages)];
  if (unique.length === 0) return;
  const install = aptInstallCommand(unique);
  if (!isRoot())
    throw new Error(`missing ${why}. Install them as root, then try again:\n  sudo sh -c '${install}'`);
  log(`installing Debian packages: ${unique.join(' ')} (for ${why})`);
  await sh(install, 'apt-get install');
}

/** Refreshes the package lists when root (so `apt-get download` finds candidates); otherwise throws with the command. */
export async function aptUpdate(why: string, log: (m: string) => void): Promise<void> {
  if (!isRoot()) throw new Error(`${why}: run apt-get update as root, then try again`);
  log(`apt-get update (${why})`);
  await sh('apt-get update', 'apt-get update');
}
