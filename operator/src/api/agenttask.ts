import { z } from 'zod';
import { cel, conditionsSchema, quantityBounds, quantityString, riskSchema } from './common.ts';

export const RUNTIME_CLASSES = ['gvisor', 'kata-qemu'] as const;
export const TOOLS = ['fs.read', 'fs.write', 'fs.list', 'shell'] as const;
export const APPROVAL_MODES = ['auto', 'required'] as const;
export const TOOL_OUTPUT_SCREENING = ['stop', 'warn'] as const;
/** `Pending` covers "not started yet": before the pod exists, and while it exists but does not run. */
export const TASK_PHASES = [
  'Pending',
  'AwaitingApproval',
  'Running',
  'Succeeded',
  'Failed',
  'TimedOut',
  'Denied',
  'Expired',
] as const;
export type TaskPhase = (typeof TASK_PHASES)[number];

/** Phases after which nothing about a task changes any more. */
export const TERMINAL_PHASES: readonly TaskPhase[] = ['Succeeded', 'Failed', 'TimedOut', 'Denied', 'Expired'];
export const isTerminalPhase = (phase: string | undefined): boolean =>
  phase !== undefined && (TERMINAL_PHASES as readonly string[]).includes(phase);

export const PROMPT_MAX_CHARS = 32768;
export const RESULT_SUMMARY_MAX_CHARS = 4096;
/** Task names are bounded so derived child names (`<task>-agent`) stay valid label values. */
export const TASK_NAME_MAX_CHARS = 50;

export const RESOURCE_LIMITS = {
  cpu: { default: '500m', min: '10m', max: '4' },
  memory: { default: '512Mi', min: '64Mi', max: '8Gi' },
  ephemeralStorage: { default: '1Gi', min: '16Mi', max: '10Gi' },
} as const;

const limitField = (field: keyof typeof RESOURCE_LIMITS, description: string) => {
  const { default: def, min, max } = RESOURCE_LIMITS[field];
  return quantityString
    .default(def)
    .describe(`${description} Default ${def}, allowed ${min}..${max}.`)
    .meta(cel(quantityBounds(field, min, max)));
};

export const taskResourcesSchema = z
  .object({
    cpu: limitField('cpu', 'CPU limit of the sandbox pod.'),
    memory: limitField('memory', 'Memory limit of the sandbox pod.'),
    ephemeralStorage: limitField(
      'ephemeralStorage',
      'Ephemeral storage limit of the sandbox pod; also the size of /workspace.',
    ),
  })
  .describe('Resource limits of the sandbox pod (requests equal limits).');

/** Files written into /workspace before the agent starts; screened before the run, spotlighted when read. */
export const INPUT_MAX_FILES = 8;
export const INPUT_MAX_CHARS = 16384;

export const taskInputSchema = z
  .object({
    path: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/)
      .refine(
        (p) => !p.split('/').some((s) => s === '..' || s === '.'),
        'path segments "." and ".." are not allowed',
      )
      .describe('Path relative to /workspace, e.g. notes/todo.md (no "..", no leading slash).')
      .meta(
        cel({
          rule: "!self.split('/').exists(s, s == '..' || s == '.')",
          message: 'path segments "." and ".." are not allowed',
        }),
      ),
    content: z.string().max(INPUT_MAX_CHARS).describe('UTF-8 text of the file.'),
  })
  .describe('An input document for the agent.');

export const BUDGET_LIMITS = {
  modelCalls: { default: 24, min: 1, max: 200 },
  tokens: { default: 100_000, min: 1000, max: 2_000_000 },
  bytes: { default: 16 * 1024 * 1024, min: 65536, max: 256 * 1024 * 1024 },
} as const;

const budgetField = (field: keyof typeof BUDGET_LIMITS, description: string) => {
  const { default: def, min, max } = BUDGET_LIMITS[field];
  return z
    .int()
    .min(min)
    .max(max)
    .default(def)
    .describe(`${description} Default ${def}, allowed ${min}..${max}.`);
};

export const taskBudgetSchema = z
  .object({
    modelCalls: budgetField('modelCalls', 'Most model calls (agent steps) the task may make.'),
    tokens: budgetField('tokens', 'Most prompt + completion tokens over all model calls.'),
    bytes: budgetField('bytes', 'Most request + response bytes through the model gateway.'),
  })
  .describe('What the task may spend through the model gateway; exceeding it ends the run.');

export const agentTaskSpecSchema = z
  .object({
    prompt: z.string().min(1).max(PROMPT_MAX_CHARS).describe('What the agent is asked to do.'),
    model: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/)
      .describe('Model name on the local Ollama, e.g. llama3.2:3b.'),
    runtimeClassName: z
      .enum(RUNTIME_CLASSES)
      .default('gvisor')
      .describe('Sandbox runtime of the pod. There is no fallback to runc.'),
    tools: z
      .array(z.enum(TOOLS))
      .max(TOOLS.length)
      .default([])
      .describe('Tools the agent may use; each at most once.')
      .meta({ 'x-kubernetes-list-type': 'set' }),
    approval: z
      .enum(APPROVAL_MODES)
      .default('auto')
      .describe('auto: approval only when the task is rated critical; required: always ask a human.'),
    timeoutSeconds: z
      .int()
      .min(1)
      .max(86400)
      .default(600)
      .describe('Deadline of the sandbox pod (activeDeadlineSeconds).'),
    resources: taskResourcesSchema.default({
      cpu: RESOURCE_LIMITS.cpu.default,
      memory: RESOURCE_LIMITS.memory.default,
      ephemeralStorage: RESOURCE_LIMITS.ephemeralStorage.default,
    }),
    inputs: z
      .array(taskInputSchema)
      .max(INPUT_MAX_FILES)
      .optional()
      .describe('Documents written into /workspace before the agent starts.')
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['path'] }),
    budget: taskBudgetSchema.default({
      modelCalls: BUDGET_LIMITS.modelCalls.default,
      tokens: BUDGET_LIMITS.tokens.default,
      bytes: BUDGET_LIMITS.bytes.default,
    }),
    toolOutputScreening: z
      .enum(TOOL_OUTPUT_SCREENING)
      .default('stop')
      .describe(
        'stop: a tool output flagged as a prompt injection stops the run. warn: it is only audited — this makes the task critical, so a human approves the relaxation.',
      ),
    ttlSecondsAfterFinished: z
      .int()
      .min(0)
      .max(604800)
      .optional()
      .describe('Delete the task this long after it finished; unset keeps it.'),
  })
  .describe('What the agent should do, with which model, tools and limits.');
export type AgentTaskSpec = z.infer<typeof agentTaskSpecSchema>;

export const taskResultSchema = z
  .object({
    summary: z.string().max(RESULT_SUMMARY_MAX_CHARS).describe('The first part of the result.'),
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/)
      .describe('sha256 of the full result.'),
    bytes: z.int().min(0).describe('Size of the full result in bytes.'),
  })
  .describe('Bounded summary and digest of the agent result.');

export const agentTaskStatusSchema = z
  .object({
    phase: z.enum(TASK_PHASES).optional(),
    observedGeneration: z.int().min(0).optional(),
    conditions: conditionsSchema.optional(),
    risk: riskSchema.optional(),
    approvalRef: z
      .object({
        name: z.string().max(253),
        digest: z
          .string()
          .regex(/^sha256:[a-f0-9]{64}$/)
          .optional()
          .describe('The spec digest the approval was asked for.'),
        expiresAt: z.iso
          .datetime()
          .optional()
          .describe('When silence becomes a denial; deleting the Approval does not move it.'),
      })
      .optional()
      .describe('The Approval this task waits for or ran under.'),
    podName: z.string().max(253).optional(),
    startTime: z.iso.datetime().optional(),
    completionTime: z.iso.datetime().optional(),
    result: taskResultSchema.optional(),
  })
  .describe('Observed state of the task, written by the operator.');
export type AgentTaskStatus = z.infer<typeof agentTaskStatusSchema>;
