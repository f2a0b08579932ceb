/**
 * Where the chart put the operator: its Deployment (label app.kubernetes.io/name=closedpaw, named
 * `<release>-closedpaw`, or the release name when it contains "closedpaw") in a namespace
 * (default closedpaw-system), the operator container's settings, and its pods.
 */
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Container,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { Failure } from './common.ts';

export const DEFAULT_NAMESPACE = 'closedpaw-system';
export const DEFAULT_RELEASE = 'closedpaw';
export const OPERATOR_CONTAINER = 'operator';
export const OPERATOR_LABEL = 'app.kubernetes.io/name=closedpaw';

/** The chart's name for a release's objects (its `closedpaw.name` helper). */
export const releaseObjectName = (release: string) =>
  release.includes('closedpaw') ? release : `${release}-closedpaw`;

export interface OperatorLocation {
  namespace: string;
  deployment: V1Deployment;
  container: V1Container;
  /** The chart's object-name prefix (`closedpaw.name`), e.g. for `<name>-gateway`. */
  name: string;
}

/** The operator container: the one named `operator`, else the first. */
export const operatorContainer = (deployment: V1Deployment): V1Container | undefined => {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  return containers.find((c) => c.name === OPERATOR_CONTAINER) ?? containers[0];
};

/** An env value of the operator container as written in the Deployment (not resolved from Secrets). */
export const envValue = (container: V1Container | undefined, name: string): string | undefined =>
  container?.env?.find((e) => e.name === name)?.value;

/** The operator Deployment in `namespace`, or undefined when there is none. */
export async function findOperator(
  kc: KubeConfig,
  namespace: string,
  release?: string,
): Promise<OperatorLocation | undefined> {
  const apps = kc.makeApiClient(AppsV1Api);
  const list = await apps.listNamespacedDeployment({ namespace, labelSelector: OPERATOR_LABEL });
  const candidates = list.items.filter(
    (d) => !release || d.metadata?.labels?.['app.kubernetes.io/instance'] === release,
  );
  if (candidates.length > 1) {
    const names = candidates.map((d) => d.metadata?.labels?.['app.kubernetes.io/instance'] ?? '?');
    throw new Failure(
      `${candidates.length} ClosedPaw releases in namespace ${namespace} (${names.join(', ')}): pick one with --release`,
    );
  }
  const deployment = candidates[0];
  if (!deployment) return undefined;
  const container = operatorContainer(deployment);
  if (!container) throw new Failure(`Deployment ${namespace}/${deployment.metadata?.name} has no containers`);
  return { namespace, deployment, container, name: deployment.metadata?.name ?? DEFAULT_RELEASE };
}

export async function requireOperator(kc: KubeConfig, namespace: string, release?: string) {
  const found = await findOperator(kc, namespace, release);
  if (!found) {
    throw new Failure(
      `no ClosedPaw operator in namespace ${namespace}: install it with closedpaw up, or name its namespace with -n`,
    );
  }
  return found;
}

export const podReady = (pod: V1Pod) =>
  !pod.metadata?.deletionTimestamp &&
  pod.status?.phase === 'Running' &&
  (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The operator's pods, Ready ones first. */
export async function operatorPods(kc: KubeConfig, location: OperatorLocation): Promise<V1Pod[]> {
  const labels = location.deployment.spec?.selector.matchLabels ?? {};
  const labelSelector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = await kc
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace: location.namespace, labelSelector });
  return [...pods.items].sort((a, b) => Number(podReady(b)) - Number(podReady(a)));
}

/** Why a pod is not Ready, in a few words (for hints). */
export function podProblem(pod: V1Pod | undefined): string {
  if (!pod) return 'no pod exists yet';
  const name = pod.metadata?.name ?? '?';
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled)
    return `pod ${name} is not scheduled (${unscheduled.reason ?? 'Unschedulable'}: ${unscheduled.message ?? ''})`;
  const waiting = (pod.status?.containerStatuses ?? []).find((s) => s.state?.waiting)?.state?.waiting;
  if (waiting)
    return `pod ${name} is waiting (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''})`;
  if (!pod.spec?.nodeName) return `pod ${name} is not scheduled on any node yet`;
  return `pod ${name} is ${pod.status?.phase ?? 'Pending'} and not Ready`;
}
