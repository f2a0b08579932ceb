/**
 * The operator's identity in tests: the service account the Helm chart creates, bound by the chart's own
 * rendered RBAC (not a test copy, not cluster-admin), installed once per cluster by hack/cluster/operator-identity.ts.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { installOperatorIdentity } from '../../hack/cluster/operator-identity.ts';
import { kubeConfig } from './kube.ts';

export {
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  OPERATOR_USER,
} from '../../hack/cluster/operator-identity.ts';

/** The human the approval UI acts as in tests, and the groups it impersonates with them. */
export const UI_APPROVER = 'closedpaw-admin';
export const UI_APPROVER_GROUPS = ['closedpaw-approvers'];

const installed = new Map<string, Promise<KubeConfig>>();

/**
 * A kubeconfig that authenticates as the chart's operator service account on the cluster `admin` points at
 * (default: the test cluster), installing the identity there once.
 */
export function operatorKubeConfig(admin: KubeConfig = kubeConfig()): Promise<KubeConfig> {
  const server = admin.getCurrentCluster()?.server ?? '';
  let identity = installed.get(server);
  if (!identity) {
    identity = installOperatorIdentity(admin, { user: UI_APPROVER, groups: UI_APPROVER_GROUPS });
    installed.set(server, identity);
  }
  return identity;
}
