/**
 * What the operator needs from the cluster before it starts, checked once with a clear answer instead of
 * retrying for ever: its API group (the CRDs) and, with leader election, a namespace for its Lease in
 * which it may create one.
 */
import { GROUP, VERSION } from './api/meta.ts';
import type { OperatorConfig } from './config.ts';
import { errorMessage, isAlreadyExists, isNotFound, statusCode } from './k8s/errors.ts';
import { type KubeConnection, RestClient } from './k8s/rest.ts';

export class PreflightError extends Error {
  override name = 'PreflightError';
}

export async function preflight(config: OperatorConfig, connection: KubeConnection): Promise<void> {
  const rest = new RestClient(connection);
  try {
    await rest.request(`/apis/${GROUP}/${VERSION}`);
  } catch (error) {
    if (isNotFound(error)) {
      throw new PreflightError(
        `the ClosedPaw CRDs are not installed (no API group ${GROUP}/${VERSION}): kubectl apply -f crds/, or helm install the chart`,
      );
    }
    throw new PreflightError(`cannot reach the API server: ${errorMessage(error)}`);
  }
  if (!config.leaderElection) return;
  const namespace = config.leaseNamespace;
  const body = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: config.leaseName, namespace },
    spec: {},
  };
  try {
    await rest.request(`/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`, {
      method: 'POST',
      query: { dryRun: 'All' },
      body,
    });
  } catch (error) {
    if (isAlreadyExists(error)) return;
    if (isNotFound(error)) {
      throw new PreflightError(
        `namespace ${namespace} for the leader Lease does not exist: kubectl create namespace ${namespace} (kubectl apply -f crds/ creates closedpaw-system), or set CLOSEDPAW_LEASE_NAMESPACE`,
      );
    }
    if (statusCode(error) === 403) {
      throw new PreflightError(
        `the operator may not create its Lease in ${namespace}: ${errorMessage(error)} (the chart's RBAC grants it in the release namespace)`,
      );
    }
    throw new PreflightError(`cannot check the leader Lease namespace ${namespace}: ${errorMessage(error)}`);
  }
}
