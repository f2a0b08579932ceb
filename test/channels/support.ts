/**
 * What an installation with channels adds to a cluster, applied for the cluster tests: the
 * ChannelPairing CRD and its admission policy, RBAC for pairing (users may create ChannelPairings) and,
 * for the operator's service account, reading them, writing their status, checking the policy exists,
 * and impersonating exactly the pairable users (as charts/closedpaw/templates/channels.yaml grants).
 */

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { CHANNEL_PAIRING, PAIRING_POLICY_NAME } from '../../operator/src/channels/pairing-resource.ts';
import { kubectl } from '../support/kube.ts';
import { OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT } from '../support/operator-identity.ts';

async function apply(docs: unknown[]): Promise<void> {
  const r = await kubectl(['apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

export async function installPairing(): Promise<void> {
  // crds/ holds the CRD and its admission policy (the control plane applies crds/ at start; again here, idempotent).
  const crds = join(import.meta.dirname, '../../crds');
  for (const file of ['channelpairings.closedpaw.dev.yaml', 'channel-pairing-policy.yaml']) {
    const r = await kubectl(['apply', '-f', join(crds, file)]);
    if (r.code !== 0) throw new Error(`kubectl apply ${file} failed: ${r.stderr}`);
  }
  const established = await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    `crd/${CHANNEL_PAIRING.plural}.closedpaw.dev`,
  ]);
  if (established.code !== 0) throw new Error(`CRD not established: ${established.stderr}`);

  // A policy takes effect shortly after it is created: wait until it refuses a pairing in another's name.
  for (let i = 0; i < 100; i++) {
    const probe = await kubectl(
      ['create', '--dry-run=server', '-f', '-'],
      stringify({
        apiVersion: 'closedpaw.dev/v1alpha1',
        kind: CHANNEL_PAIRING.kind,
        metadata: { generateName: 'probe-' },
        spec: { user: 'someone-else', codeDigest: `sha256:${'0'.repeat(64)}` },
      }),
    );
    if (/must be your own user name/.test(probe.stderr)) return;
    await sleep(100);
  }
  throw new Error('the ChannelPairing admission policy never took effect');
}

/** The operator may impersonate exactly `users` (and nobody else), and handle ChannelPairings. */
export async function grantOperatorChannels(users: string[]): Promise<void> {
  await apply([
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'closedpaw-operator-channels' },
      rules: [
        {
          apiGroups: ['closedpaw.dev'],
          resources: [CHANNEL_PAIRING.plural],
          verbs: ['get', 'list', 'watch'],
        },
        {
          apiGroups: ['closedpaw.dev'],
          resources: [`${CHANNEL_PAIRING.plural}/status`],
          verbs: ['patch', 'update'],
        },
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: ['validatingadmissionpolicies', 'validatingadmissionpolicybindings'],
          verbs: ['get'],
          resourceNames: [PAIRING_POLICY_NAME],
        },
        { apiGroups: [''], resources: ['users'], verbs: ['impersonate'], resourceNames: users },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'closedpaw-operator-channels' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'closedpaw-operator-channels',
      },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_SERVICE_ACCOUNT, namespace: OPERATOR_NAMESPACE }],
    },
  ]);
}

/** Anyone who may pair a chat account: create ChannelPairings (the admission policy pins spec.user to them). */
export async function grantPairing(users: string[]): Promise<void> {
  await apply([
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'closedpaw-channel-pairer' },
      rules: [
        { apiGroups: ['closedpaw.dev'], resources: [CHANNEL_PAIRING.plural], verbs: ['create', 'get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `closedpaw-channel-pairer-${users.join('-')}` },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'closedpaw-channel-pairer',
      },
      subjects: users.map((name) => ({ kind: 'User', name, apiGroup: 'rbac.authorization.k8s.io' })),
    },
  ]);
}

/** Takes back what grantOperatorChannels and grantPairing gave (the CRD and its policy stay: harmless, shared). */
export async function revokeChannelGrants(pairers: string[]): Promise<void> {
  await kubectl([
    'delete',
    'clusterrolebinding',
    '--ignore-not-found',
    'closedpaw-operator-channels',
    `closedpaw-channel-pairer-${pairers.join('-')}`,
  ]);
}
