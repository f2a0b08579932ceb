/** Helpers for tests that talk to the real control plane started by global-setup. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { type CommandResult, runCommand } from '../../hack/cluster/processes.ts';

export type { CommandResult };

const KUBECTL = join(import.meta.dirname, '../../hack/bin/kubectl');

export function kubeConfig(): KubeConfig {
  if (!process.env.KUBECONFIG) throw new Error('KUBECONFIG is not set: run tests with `npm test`');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/** Runs the real kubectl as a user would, optionally feeding `input` on stdin. */
export function kubectl(args: string[], input?: string): Promise<CommandResult> {
  return runCommand(KUBECTL, args, input !== undefined ? { input } : {});
}

/**
 * Creates a namespace that enforces the `restricted` Pod Security Standard and
 * waits until kube-controller-manager gave it its default service account.
 */
export async function createTestNamespace(prefix: string): Promise<string> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({
    body: {
      metadata: {
        name,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    },
  });
  for (let i = 0; i < 300; i++) {
    const found = await core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(
      () => true,
      () => false,
    );
    if (found) return name;
    await sleep(50);
  }
  throw new Error(`namespace ${name}: default service account never appeared`);
}

/**
 * Deletes a test namespace for good. Tests stop their operator and test
 * kubelet first, so nothing would release the sandbox-teardown finalizers or
 * confirm pod deletions: this does both, or the namespace would hang in
 * Terminating and keep the API server busy for the rest of the run.
 */
export async function deleteNamespace(name: string): Promise<void> {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  await core.deleteNamespace({ name }).catch(() => undefined);
  const policies = await networking
    .listNamespacedNetworkPolicy({ namespace: name })
    .catch(() => ({ items: [] }));
  for (const policy of policies.items) {
    if (!policy.metadata?.finalizers?.length) continue;
    await networking
      .patchNamespacedNetworkPolicy(
        { namespace: name, name: policy.metadata.name!, body: { metadata: { finalizers: null } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )
      .catch(() => undefined);
  }
  await core.deleteCollectionNamespacedPod({ namespace: name, gracePeriodSeconds: 0 }).catch(() => undefined);
}
