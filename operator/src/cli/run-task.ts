/**
 * `closedpaw run` flags → an AgentTask, validated with the CRD's own zod schema before anything is sent,
 * so a typo or a prompt over the limit is a one-line usage error naming the flag to fix.
 */
import type { z } from 'zod';
import {
  agentTaskSpecSchema,
  PROMPT_MAX_CHARS,
  RUNTIME_CLASSES,
  TASK_NAME_MAX_CHARS,
  TOOLS,
} from '../api/agenttask.ts';
import { AGENT_TASK, API_VERSION } from '../api/meta.ts';
import type { AgentTask } from '../api/types.ts';
import { closest, durationOption, UsageError } from './common.ts';

export interface RunFlags {
  prompt: string;
  tools?: string;
  model?: string;
  runtime?: string;
  timeout?: string;
  approval?: string;
  name?: string;
  namespace: string;
}

/** Which flag (or argument) each spec field comes from. */
const FLAG_OF: Record<string, string> = {
  prompt: 'PROMPT',
  model: '--model',
  runtimeClassName: '--runtime',
  tools: '--tools',
  approval: '--approval',
  timeoutSeconds: '--timeout',
};

const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const GENERATE_NAME = 'run-';

function parseTools(list: string | undefined): string[] {
  if (list === undefined) return [];
  const tools = list
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const tool of tools) {
    if (!(TOOLS as readonly string[]).includes(tool)) {
      const hint = closest(tool, TOOLS);
      throw new UsageError(
        `--tools: unknown tool "${tool}"${hint ? ` (did you mean ${hint}?)` : ''}; the tools are ${TOOLS.join(', ')}`,
      );
    }
  }
  const duplicate = tools.find((t, i) => tools.indexOf(t) !== i);
  if (duplicate) throw new UsageError(`--tools: ${duplicate} is listed twice`);
  return tools;
}

function checkName(name: string | undefined): void {
  if (name === undefined) return;
  if (name.length > TASK_NAME_MAX_CHARS || !NAME_PATTERN.test(name)) {
    throw new UsageError(
      `--name: "${name}" is not a valid task name: lowercase letters, digits and "-", at most ${TASK_NAME_MAX_CHARS} characters, starting and ending with a letter or digit`,
    );
  }
}

/** One line for the first schema problem, naming the flag. */
export function describeIssue(issue: z.core.$ZodIssue, spec: Record<string, unknown>): string {
  const prompt = String(spec.prompt ?? '');
  const field = String(issue.path[0] ?? '');
  const flag = FLAG_OF[field] ?? field;
  if (field === 'prompt' && issue.code === 'too_big') {
    return `the prompt has ${Array.from(prompt).length} characters; an AgentTask allows at most ${PROMPT_MAX_CHARS}: shorten it or put the material in a file the agent reads`;
  }
  if (field === 'prompt' && issue.code === 'too_small')
    return 'the prompt is empty: say what the agent should do';
  if (field === 'runtimeClassName') {
    return `--runtime: must be one of ${RUNTIME_CLASSES.join(', ')} (there is no runc fallback)`;
  }
  if (field === 'timeoutSeconds') return '--timeout: must be between 1s and 24h';
  if (field === 'model') {
    return `--model: "${String(spec.model)}" is not a model name (letters, digits and . _ : / -, e.g. llama3.2:3b)`;
  }
  return `${flag}: ${issue.message}`;
}

/** The AgentTask to create, or a UsageError naming what to fix. */
export function buildTask(flags: RunFlags, env: Record<string, string | undefined> = {}): AgentTask {
  const model = flags.model ?? env.CLOSEDPAW_MODEL;
  if (!model) {
    throw new UsageError(
      '--model is required (or set CLOSEDPAW_MODEL), e.g. --model llama3.2:3b; closedpaw doctor lists the models Ollama has',
    );
  }
  checkName(flags.name);
  const spec: Record<string, unknown> = {
    prompt: flags.prompt,
    model,
    tools: parseTools(flags.tools),
  };
  if (flags.runtime !== undefined) spec.runtimeClassName = flags.runtime;
  if (flags.timeout !== undefined)
    spec.timeoutSeconds = durationOption('--timeout', flags.timeout, '90s, 10m or 1h', 1);
  if (flags.approval !== undefined) spec.approval = flags.approval;
  const parsed = agentTaskSpecSchema.safeParse(spec);
  if (!parsed.success) throw new UsageError(describeIssue(parsed.error.issues[0]!, spec));
  // Only what the user chose is sent: the API server fills in the CRD's defaults.
  return {
    apiVersion: API_VERSION,
    kind: AGENT_TASK.kind,
    metadata: {
      ...(flags.name ? { name: flags.name } : { generateName: GENERATE_NAME }),
      namespace: flags.namespace,
      labels: { 'app.kubernetes.io/created-by': 'closedpaw-cli' },
    },
    spec: spec as AgentTask['spec'],
  };
}
