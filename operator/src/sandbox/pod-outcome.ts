/** What a sandbox pod's status says about the task: still running, or how it ended. */
import type { V1Pod } from '@kubernetes/client-node';
import { AGENT_CONTAINER } from './pod.ts';

export type PodOutcome =
  | { state: 'running' }
  | { state: 'succeeded' }
  | { state: 'failed'; reason: string; message: string }
  | { state: 'timedOut'; message: string };

export function podOutcome(pod: V1Pod): PodOutcome {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded') return { state: 'succeeded' };
  if (phase !== 'Failed') return { state: 'running' };
  if (pod.status?.reason === 'DeadlineExceeded') {
    return { state: 'timedOut', message: pod.status.message ?? 'the pod ran past its activeDeadlineSeconds' };
  }
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === AGENT_CONTAINER)?.state
    ?.terminated;
  const exit = terminated
    ? `exit code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}`
    : '';
  const detail = [pod.status?.message, exit, terminated?.message?.slice(0, 512)].filter(Boolean).join('; ');
  return { state: 'failed', reason: 'AgentFailed', message: detail || 'the sandbox pod failed' };
}
