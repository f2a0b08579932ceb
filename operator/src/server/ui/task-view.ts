/**
 * What the task view shows: a task list row, and one task with its spec summary,
 * status, and each condition next to what its reason means (api/reasons.ts).
 * Pure; the UI imports these types (type-only), like view.ts.
 */
import { agentTaskSpecSchema, isTerminalPhase } from '../../api/agenttask.ts';
import { REASON_TEXT } from '../../api/reasons.ts';
import type { AgentTask } from '../../api/types.ts';
import type { AuditTrailView } from './audit-trail.ts';
import type { RunnerStep, StepsStatus } from './steps.ts';

export type RiskLevel = 'low' | 'high' | 'critical' | 'unknown';

export const isTerminal = isTerminalPhase;

export interface TaskSummaryView {
  /** `namespace/name`. */
  key: string;
  namespace: string;
  name: string;
  uid: string;
  /** status.phase; undefined until the operator wrote one. */
  phase?: string;
  /** status.risk.level as the operator rated it; `unknown` before it did. */
  risk: RiskLevel;
  createdAt?: string;
  /** The Approval the task waits for or ran under (same namespace). */
  approvalName?: string;
}

export interface ConditionView {
  type: string;
  status: string;
  reason?: string;
  /** What the reason means (api/reasons.ts); absent for a reason the operator does not define. */
  meaning?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** The spec fields both pages show. */
export interface SpecSummary {
  prompt: string;
  model: string;
  runtimeClassName: string;
  tools: string[];
  approval: string;
  timeoutSeconds: number;
  resources: { cpu?: string; memory?: string; ephemeralStorage?: string };
  budget: { modelCalls: number; tokens: number; bytes: number };
  /** Paths of the documents written into /workspace before the agent starts (contents not shown). */
  inputs: string[];
}

export interface TaskSpecView extends SpecSummary {
  toolOutputScreening: string;
  /** Set when the stored spec does not validate: the fields above are then best-effort. */
  invalid?: string;
}

export interface TaskStatusView {
  risk: { level: RiskLevel; reasons: string[] };
  conditions: ConditionView[];
  approvalRef?: { name: string; digest?: string; expiresAt?: string };
  podName?: string;
  startTime?: string;
  completionTime?: string;
  /** The recorded result: the first 4096 characters, and the sha256 and size of the whole. */
  result?: { summary: string; sha256: string; bytes: number };
}

export interface TaskDetailView extends TaskSummaryView {
  generation?: number;
  observedGeneration?: number;
  spec: TaskSpecView;
  status: TaskStatusView;
}

export interface TasksResponse {
  serverTime: string;
  tasks: TaskSummaryView[];
}

export const taskKey = (t: AgentTask): string => `${t.metadata.namespace}/${t.metadata.name}`;

const iso = (value: unknown): string | undefined => {
  const ms =
    value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
};

function riskLevel(t: AgentTask): RiskLevel {
  const level = t.status?.risk?.level;
  return level === 'low' || level === 'high' || level === 'critical' ? level : 'unknown';
}

export function toTaskSummary(t: AgentTask): TaskSummaryView {
  const createdAt = iso(t.metadata.creationTimestamp);
  return {
    key: taskKey(t),
    namespace: t.metadata.namespace ?? '',
    name: t.metadata.name ?? '',
    uid: t.metadata.uid ?? '',
    ...(t.status?.phase ? { phase: t.status.phase } : {}),
    risk: riskLevel(t),
    ...(createdAt ? { createdAt } : {}),
    ...(t.status?.approvalRef?.name ? { approvalName: t.status.approvalRef.name } : {}),
  };
}

/** A condition with the meaning of its reason beside it. */
export function conditionView(
  c: NonNullable<NonNullable<AgentTask['status']>['conditions']>[number],
): ConditionView {
  const meaning = c.reason && Object.hasOwn(REASON_TEXT, c.reason) ? REASON_TEXT[c.reason] : undefined;
  const at = iso(c.lastTransitionTime);
  return {
    type: c.type,
    status: c.status,
    ...(c.reason ? { reason: c.reason } : {}),
    ...(meaning ? { meaning } : {}),
    ...(c.message ? { message: c.message } : {}),
    ...(at ? { lastTransitionTime: at } : {}),
  };
}

function specView(t: AgentTask): TaskSpecView {
  const parsed = agentTaskSpecSchema.safeParse(t.spec);
  const s = parsed.success ? parsed.data : t.spec;
  const view: TaskSpecView = {
    prompt: typeof s?.prompt === 'string' ? s.prompt : '',
    model: typeof s?.model === 'string' ? s.model : '',
    runtimeClassName: typeof s?.runtimeClassName === 'string' ? s.runtimeClassName : '',
    tools: Array.isArray(s?.tools) ? s.tools.map(String) : [],
    approval: typeof s?.approval === 'string' ? s.approval : '',
    timeoutSeconds: typeof s?.timeoutSeconds === 'number' ? s.timeoutSeconds : 0,
    resources: { ...(s?.resources ?? {}) },
    budget: {
      modelCalls: s?.budget?.modelCalls ?? 0,
      tokens: s?.budget?.tokens ?? 0,
      bytes: s?.budget?.bytes ?? 0,
    },
    inputs: Array.isArray(s?.inputs) ? s.inputs.map((i) => String(i?.path ?? '')) : [],
    toolOutputScreening: typeof s?.toolOutputScreening === 'string' ? s.toolOutputScreening : '',
  };
  if (!parsed.success) {
    view.invalid = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`)
      .join('; ');
  }
  return view;
}

function statusView(t: AgentTask): TaskStatusView {
  const st = t.status ?? {};
  const startTime = iso(st.startTime);
  const completionTime = iso(st.completionTime);
  return {
    risk: { level: riskLevel(t), reasons: [...(st.risk?.reasons ?? [])] },
    conditions: (st.conditions ?? []).map(conditionView),
    ...(st.approvalRef ? { approvalRef: { ...st.approvalRef } } : {}),
    ...(st.podName ? { podName: st.podName } : {}),
    ...(startTime ? { startTime } : {}),
    ...(completionTime ? { completionTime } : {}),
    ...(st.result
      ? { result: { summary: st.result.summary, sha256: st.result.sha256, bytes: st.result.bytes } }
      : {}),
  };
}

export function toTaskDetail(t: AgentTask): TaskDetailView {
  return {
    ...toTaskSummary(t),
    ...(t.metadata.generation !== undefined ? { generation: t.metadata.generation } : {}),
    ...(t.status?.observedGeneration !== undefined
      ? { observedGeneration: t.status.observedGeneration }
      : {}),
    spec: specView(t),
    status: statusView(t),
  };
}

/** Server-sent events on /api/tasks/:namespace/:name/events, one JSON object per `data:` line. */
export type TaskStreamEvent =
  /** The task as it is now: first on connect, then after every change. */
  | { type: 'task'; serverTime: string; task: TaskDetailView }
  /** New runner steps; `from` is the index of the first (steps are appended, never replaced). */
  | { type: 'steps'; from: number; steps: RunnerStep[] }
  | { type: 'steps-status'; status: StepsStatus }
  /** The task's audit trail, whenever it changed. */
  | { type: 'audit'; trail: AuditTrailView }
  /** The task was deleted (or re-created as another object): the stream ends. */
  | { type: 'gone'; message: string };
