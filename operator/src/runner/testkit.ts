/** Test helpers for the agent loop: a task spec, a scripted ChatFn, a step log that keeps lines. */
import type { z } from 'zod';
import type { RunnerStep } from '../api/agent-protocol.ts';
import { type AgentTaskSpec, agentTaskSpecSchema } from '../api/agenttask.ts';
import type { ChatFn, ChatRequest, ChatTurn } from './agent-loop.ts';
import type { StepLog } from './step-log.ts';

export function spec(overrides: Partial<z.input<typeof agentTaskSpecSchema>> = {}): AgentTaskSpec {
  return agentTaskSpecSchema.parse({ prompt: 'Summarise notes.md', model: 'smollm2:135m', ...overrides });
}

export const text = (content: string): ChatTurn => ({ content, toolCalls: [] });
export const call = (name: unknown, args: unknown, content = ''): ChatTurn => ({
  content,
  toolCalls: [{ name, arguments: args }],
});

export type Script = ChatTurn | Error | ((request: ChatRequest, signal: AbortSignal) => Promise<ChatTurn>);

/** A ChatFn that answers from a queue and keeps (copies of) the requests it got. */
export function scriptedChat(...script: Script[]): { chat: ChatFn; requests: ChatRequest[] } {
  const requests: ChatRequest[] = [];
  const chat: ChatFn = async (request, signal) => {
    requests.push(structuredClone(request));
    const next = script.shift();
    if (next === undefined) throw new Error('the script has no turn left');
    if (next instanceof Error) throw next;
    if (typeof next === 'function') return next(request, signal);
    return next;
  };
  return { chat, requests };
}

/** A chat that never answers until the run's signal aborts, like a hung model. */
export const hang = (_request: ChatRequest, signal: AbortSignal): Promise<ChatTurn> =>
  new Promise((_resolve, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
  );

export function recordingLog(): { log: StepLog; steps: RunnerStep[]; lines: string[] } {
  const steps: RunnerStep[] = [];
  const lines: string[] = [];
  return {
    steps,
    lines,
    log: (step) => {
      steps.push(step);
      lines.push(JSON.stringify(step));
    },
  };
}
