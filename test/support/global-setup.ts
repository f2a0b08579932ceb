/**
 * node:test global setup: one real control plane per test run, shared by all
 * test files through $KUBECONFIG, and one operator bundle built from the current
 * sources (CLOSEDPAW_TEST_OPERATOR_MAIN). Set CLOSEDPAW_TEST_KUBECONFIG to reuse a
 * running cluster (e.g. from `npm run cluster:up`) while iterating.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, stopCluster } from '../../hack/cluster/controlplane.ts';
import { buildOperatorBundle, removeOperatorBundle } from './operator-bundle.ts';

let clusterDir: string | undefined;

export async function globalSetup(): Promise<void> {
  process.env.CLOSEDPAW_TEST_OPERATOR_MAIN = await buildOperatorBundle();
  const reuse = process.env.CLOSEDPAW_TEST_KUBECONFIG;
  if (reuse) {
    process.env.KUBECONFIG = reuse;
    return;
  }
  clusterDir = await mkdtemp(join(tmpdir(), 'closedpaw-test-cluster-'));
  const started = Date.now();
  const state = await startCluster(clusterDir);
  process.env.KUBECONFIG = state.kubeconfig;
  process.env.CLOSEDPAW_TEST_CLUSTER_DIR = clusterDir;
  console.error(`# control plane ready at ${state.server} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

export async function globalTeardown(): Promise<void> {
  if (process.env.CLOSEDPAW_TEST_OPERATOR_MAIN)
    removeOperatorBundle(process.env.CLOSEDPAW_TEST_OPERATOR_MAIN);
  if (clusterDir) await stopCluster(clusterDir);
}
