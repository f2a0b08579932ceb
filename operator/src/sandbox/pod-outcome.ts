/** What a sandbox pod's status says about the task: not running yet (and why), running, or how it ended. */
import type { V1Pod } from '@kubernetes/client-node';
import { runnerFailureSchema } from '../api/agent-protocol.ts';
import { AGENT_CONTAINER, ISOLATION_CHECK_CONTAINER } from './pod.ts';

export type PodOutcome =
  | { state: 'pending'; reason: string; message: string; stuck: boolean }
  | { state: 'running' }
  | { state: 'succeeded' }
  | { state: 'failed'; reason: string; message: string }
  | { state: 'timedOut'; message: string };

/** Waiting reasons that will not clear up by themselves: reported at once, not after the grace period. */
const STUCK_REASONS = new Set([
  'Unschedulable',
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/** A condition reason must match metav1.Condition's pattern; kubelet reasons do, anything else is mapped. */
const conditionSafe = (reason: string | undefined) =>
  reason && /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/.test(reason) && reason.length <= 64
    ? reason
    : undefined;

function pendingOutcome(pod: V1Pod): Extract<PodOutcome, { state: 'pending' }> {
  const unschedulable = pod.status?.conditions?.find(
    (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
  );
  if (unschedulable) {
    return {
      state: 'pending',
      reason: 'Unschedulable',
      message: unschedulable.message ?? 'no node fits the pod',
      stuck: true,
    };
  }
  const agent = pod.status?.containerStatuses?.find((c) => c.name === AGENT_CONTAINER);
  const waiting =
    agent?.state?.waiting ?? pod.status?.initContainerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
  const reason = conditionSafe(waiting?.reason);
  if (reason) {
    return {
      state: 'pending',
      reason,
      message: waiting?.message ?? reason,
      stuck: STUCK_REASONS.has(reason),
    };
  }
  const where = pod.spec?.nodeName ? `on node ${pod.spec.nodeName}` : 'not scheduled yet';
  return {
    state: 'pending',
    reason: 'PodPending',
    message: `the sandbox pod is pending (${where})`,
    stuck: false,
  };
}

/** The runner's own report, when the terminated container left one on the termination log. */
function runnerReport(message: string | undefined): { reason: string; message: string } | undefined {
  if (!message) return undefined;
  try {
    const parsed = runnerFailureSchema.safeParse(JSON.parse(message));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function podOutcome(pod: V1Pod): PodOutcome {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded') return { state: 'succeeded' };
  if (phase === 'Running') return { state: 'running' };
  if (phase !== 'Failed') return pendingOutcome(pod);
  if (pod.status?.reason === 'DeadlineExceeded') {
    return { state: 'timedOut', message: pod.status.message ?? 'the pod ran past its activeDeadlineSeconds' };
  }
  const check = pod.status?.initContainerStatuses?.find((c) => c.name === ISOLATION_CHECK_CONTAINER)?.state
    ?.terminated;
  if (check && check.exitCode !== 0) {
    const why = check.message?.trim().slice(0, 1024) || `the isolation check exited ${check.exitCode}`;
    return { state: 'failed', reason: 'IsolationNotProven', message: `no agent code ran: ${why}` };
  }
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === AGENT_CONTAINER)?.state
    ?.terminated;
  const report = runnerReport(terminated?.message);
  if (report) return { state: 'failed', ...report };
  const exit = terminated
    ? `exit code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}`
    : '';
  const detail = [pod.status?.message, exit, terminated?.message?.slice(0, 512)].filter(Boolean).join('; ');
  return { state: 'failed', reason: 'AgentFailed', message: detail || 'the sandbox pod failed' };
}
