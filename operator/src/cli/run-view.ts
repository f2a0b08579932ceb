/**
 * What `closedpaw run` shows, as pure functions of what it has seen: the live progress line, one line per
 * runner step, the approval instructions, and the outcome (text and exit code).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { RunnerStep } from '../api/agent-protocol.ts';
import { isTerminalPhase } from '../api/agenttask.ts';
import { CONDITION, REASON_TEXT } from '../api/reasons.ts';
import type { AgentTask } from '../api/types.ts';
import { escapeControl } from './approvals.ts';

export const isTerminal = (task: AgentTask | undefined): boolean => isTerminalPhase(task?.status?.phase);

const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** One permanent line per runner step (the runner reports what happened, never raw content). */
export function stepLine(step: RunnerStep): string {
  switch (step.event) {
    case 'model': {
      const tokens =
        step.promptTokens !== undefined || step.completionTokens !== undefined
          ? `, ${step.promptTokens ?? 0}+${step.completionTokens ?? 0} tokens`
          : '';
      const calls = step.toolCalls === 1 ? '1 tool call' : `${step.toolCalls} tool calls`;
      return `  step ${step.step}  model    ${ms(step.ms)}, ${calls}${tokens}`;
    }
    case 'tool':
      return `  step ${step.step}  ${escapeControl(step.tool).padEnd(8)} ${step.ok ? 'ok' : 'failed'}, ${bytes(step.bytes)}, ${ms(step.ms)}${step.error ? `: ${escapeControl(step.error)}` : ''}`;
    case 'finished':
      return `  finished after ${step.steps} step${step.steps === 1 ? '' : 's'}, ${bytes(step.bytes)} of result`;
    case 'failed':
      return `  runner failed: ${step.reason}: ${escapeControl(step.message).slice(0, 300)}`;
  }
}

/** The pod's state in a word or two: Running, ContainerCreating, Unschedulable, Succeeded… */
export function podState(pod: V1Pod | undefined): string | undefined {
  if (!pod) return undefined;
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  const phase = pod.status?.phase ?? 'Pending';
  if (phase !== 'Pending') return phase;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const waiting = statuses.find((s) => s.state?.waiting?.reason)?.state?.waiting?.reason;
  if (waiting) return waiting;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) return unscheduled.reason ?? 'Unschedulable';
  return 'Pending';
}

export interface ProgressView {
  task: AgentTask;
  pod?: V1Pod;
  /** The last runner step seen. */
  lastStep?: RunnerStep;
  /** Seconds since the run started. */
  elapsedSeconds: number;
}

/** The live status line: name, phase, risk, pod state, last step, elapsed time. */
export function progressLine(view: ProgressView): string {
  const { task } = view;
  const status = task.status ?? {};
  const parts = [`${task.metadata.name}`, status.phase ?? 'Submitted'];
  if (status.risk) parts.push(`risk ${status.risk.level}`);
  if (status.phase === 'AwaitingApproval') parts.push('waiting for a human');
  const blocked = status.conditions?.find((c) => c.type === CONDITION.Blocked && c.status === 'True');
  if (blocked) parts.push(`blocked: ${blocked.reason}`);
  const runtime = status.conditions?.find(
    (c) => c.type === CONDITION.RuntimeClassAvailable && c.status === 'False',
  );
  if (runtime) parts.push(runtime.reason);
  const pod = podState(view.pod);
  if (pod) parts.push(`pod ${pod}`);
  else {
    const sandbox = status.conditions?.find((c) => c.type === CONDITION.SandboxReady && c.status === 'False');
    if (sandbox) parts.push(`pod ${sandbox.reason}`);
  }
  if (view.lastStep && 'step' in view.lastStep) parts.push(`step ${view.lastStep.step}`);
  parts.push(`${Math.floor(view.elapsedSeconds)}s`);
  return parts.join(' · ');
}

/** How to give the approval a waiting task asks for: the exact commands, and the UI. */
export function approvalLines(task: AgentTask): string[] {
  const ns = task.metadata.namespace ?? 'default';
  const approval = task.status?.approvalRef?.name;
  const risk = task.status?.risk;
  const lines = [
    `${task.metadata.name} waits for a human approval${risk ? ` (risk ${risk.level})` : ''}:`,
    ...(risk?.reasons ?? []).map((r) => `  - ${escapeControl(r)}`),
  ];
  if (approval) {
    lines.push(
      `  approve:  closedpaw approve ${approval} -n ${ns}`,
      `  deny:     closedpaw deny ${approval} -n ${ns} --reason "…"`,
    );
  } else {
    lines.push(`  the Approval is being created: closedpaw approvals -n ${ns}`);
  }
  lines.push('  or in the approval UI: closedpaw ui');
  const expires = task.status?.approvalRef?.expiresAt;
  if (expires) lines.push(`  no decision by ${expires} is a denial`);
  return lines;
}

export interface Outcome {
  code: 0 | 1;
  /** Printed on stdout: the result (success only). */
  stdout: string;
  /** Printed on stderr: how it ended. */
  stderr: string[];
}

/** How a finished task ended, for the terminal. */
export function outcomeOf(task: AgentTask): Outcome {
  const status = task.status ?? {};
  const name = task.metadata.name;
  const conditions = status.conditions ?? [];
  if (status.phase === 'Succeeded') {
    const result = status.result;
    const stderr = [`${name} succeeded`];
    const flagged = conditions.find((c) => c.type === CONDITION.OutputFlagged && c.status === 'True');
    if (flagged) stderr.push(`  note: ${flagged.reason}: ${flagged.message}`);
    if (result && Buffer.byteLength(result.summary, 'utf8') < result.bytes) {
      stderr.push(
        `  the result is ${result.bytes} bytes: shown are its first ${result.summary.length} characters (sha256 ${result.sha256})`,
      );
    }
    const text = result?.summary ?? '';
    return { code: 0, stdout: text.endsWith('\n') || text === '' ? text : `${text}\n`, stderr };
  }
  const failed =
    conditions.find((c) => c.type === CONDITION.Failed && c.status === 'True') ??
    conditions.find((c) => c.type === CONDITION.Approved && c.status === 'False');
  const reason = failed?.reason ?? status.phase ?? 'Unknown';
  const meaning = REASON_TEXT[reason];
  const stderr = [`${name} ${status.phase ?? 'ended'}: ${reason}${meaning ? ` — ${meaning}` : ''}`];
  if (failed?.message) stderr.push(`  ${escapeControl(failed.message).slice(0, 2000)}`);
  stderr.push(`  details: kubectl describe agenttask ${name} -n ${task.metadata.namespace}`);
  return { code: 1, stdout: '', stderr };
}
