/** Locates the upstream binaries under hack/bin, building them first when the pin changed. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const HACK = join(import.meta.dirname, '..');

export const binaries = {
  kube: join(HACK, 'bin/closedpaw-kube'),
  kubectl: join(HACK, 'bin/kubectl'),
  helm: join(HACK, 'bin/helm'),
};

/** Runs hack/build-kube.sh: a no-op plus re-linking when the cached binaries match the pin. */
export async function ensureBinaries(): Promise<typeof binaries> {
  await new Promise<void>((resolve, reject) => {
    const build = spawn('bash', [join(HACK, 'build-kube.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    build.once('error', reject);
    build.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`hack/build-kube.sh failed (exit ${code}); see its output above`)),
    );
  });
  return binaries;
}
