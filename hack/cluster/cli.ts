/**
 * `npm run cluster:up` / `cluster:down`: the local control plane for development.
 * The last line `up` prints is `KUBECONFIG=<absolute path>`.
 */
import { resolve } from 'node:path';
import { ensureBinaries } from './binaries.ts';
import { installCrds, runningCluster, startCluster, stopCluster } from './controlplane.ts';

export const DEFAULT_CLUSTER_DIR = resolve(import.meta.dirname, '../../.closedpaw/cluster');
const dir = resolve(process.env.CLOSEDPAW_CLUSTER_DIR ?? DEFAULT_CLUSTER_DIR);

async function up(): Promise<void> {
  await ensureBinaries();
  const running = await runningCluster(dir);
  if (running) {
    await installCrds(running);
    console.log(`reusing the running control plane at ${running.server}`);
    console.log(`KUBECONFIG=${running.kubeconfig}`);
    return;
  }
  const state = await startCluster(dir);
  console.log(`control plane up at ${state.server} (etcd ${state.etcdUrl}); logs in ${dir}/logs`);
  console.log(`KUBECONFIG=${state.kubeconfig}`);
}

async function down(): Promise<void> {
  await stopCluster(dir);
  console.log(`control plane stopped; removed ${dir}`);
}

const verb = process.argv[2];
try {
  if (verb === 'up') await up();
  else if (verb === 'down') await down();
  else throw new Error('usage: node hack/cluster/cli.ts up|down');
} catch (error) {
  console.error(`cluster ${verb}: ${(error as Error).message}`);
  process.exitCode = 1;
}
