/**
 * The step loop: ask the model, run the tools it calls, feed the results back
 * (spotlighted), until it answers without tools — or a limit ends the run.
 * It talks to the model only through a `ChatFn`, so tests can script it.
 *
 * Limits: `spec.budget.modelCalls` model calls (StepLimitReached); the same
 * tool with the same arguments `repeatedCallLimit` times (RepeatedToolCall);
 * more malformed calls than `malformedCallsTolerated` (ToolCallInvalid); the
 * wall-clock budget (WallClockExceeded). Tool errors are results the model
 * sees and can react to; they never end the run.
 */
import type { Message, ChatRequest as OllamaChatRequest } from 'ollama';
import type { ResultFlag } from '../api/agent-protocol.ts';
import type { AgentTaskSpec } from '../api/agenttask.ts';
import { RunFailure } from './failure.ts';
import { LIMITS } from './limits.ts';
import { redactCanary, systemPrompt } from './prompt.ts';
import type { Spotlight } from './spotlight.ts';
import { argumentsDigest, canonicalJson, type StepLog } from './step-log.ts';
import type { ToolBox } from './tools/registry.ts';
import { ToolError } from './tools/tool-error.ts';

export interface ChatRequest {
  model: string;
  messages: Message[];
  tools: NonNullable<OllamaChatRequest['tools']>;
}

/** One model reply, assembled from the stream. Tool calls as the model sent them (not yet trusted). */
export interface ChatTurn {
  content: string;
  toolCalls: { name: unknown; arguments: unknown }[];
  promptTokens?: number;
  completionTokens?: number;
}

/** Must throw a RunFailure on model or gateway errors; is aborted through `signal` on the wall-clock budget. */
export type ChatFn = (request: ChatRequest, signal: AbortSignal) => Promise<ChatTurn>;

export interface AgentDeps {
  spec: AgentTaskSpec;
  chat: ChatFn;
  tools: ToolBox;
  spotlight: Spotlight;
  canary: string;
  log: StepLog;
  /** Aborted (with a RunFailure as reason) when the wall-clock budget is spent. */
  signal: AbortSignal;
  /** How the workspace is named to the model. */
  workspace: string;
  now?: () => number;
}

export interface AgentResult {
  answer: string;
  flags: ResultFlag[];
  steps: number;
}

export async function runAgent(deps: AgentDeps): Promise<AgentResult> {
  const { spec, tools } = deps;
  const now = deps.now ?? performance.now.bind(performance);
  const state: LoopState = { messages: initialMessages(deps), seen: new Map(), malformed: 0, now };

  for (let step = 1; step <= spec.budget.modelCalls; step++) {
    checkBudget(deps.signal);
    const started = now();
    const turn = await askModel(deps, {
      model: spec.model,
      messages: state.messages,
      tools: tools.definitions,
    });
    deps.log({
      event: 'model',
      step,
      ms: round(now() - started),
      ...(turn.promptTokens !== undefined ? { promptTokens: turn.promptTokens } : {}),
      ...(turn.completionTokens !== undefined ? { completionTokens: turn.completionTokens } : {}),
      toolCalls: turn.toolCalls.length,
    });
    if (turn.toolCalls.length === 0) return finish(deps, turn.content, step);
    if (step === spec.budget.modelCalls) {
      throw new RunFailure(
        'StepLimitReached',
        `the model still called tools at its last allowed model call (budget.modelCalls = ${spec.budget.modelCalls}) and gave no final answer`,
      );
    }
    state.messages.push({ role: 'assistant', content: turn.content, tool_calls: echoCalls(turn.toolCalls) });
    for (const call of turn.toolCalls) {
      checkBudget(deps.signal);
      state.messages.push(await toolStep(deps, state, step, call));
    }
  }
  // Only reached with budget.modelCalls < 1, which the schema forbids.
  throw new RunFailure(
    'StepLimitReached',
    `no model call allowed (budget.modelCalls = ${spec.budget.modelCalls})`,
  );
}

interface LoopState {
  messages: Message[];
  /** Calls made so far, by tool and canonical arguments. */
  seen: Map<string, number>;
  malformed: number;
  now: () => number;
}

/** One tool call: checked, counted, run; returns what the model sees. */
async function toolStep(
  deps: AgentDeps,
  state: LoopState,
  step: number,
  call: ChatTurn['toolCalls'][number],
): Promise<Message> {
  const argsSha256 = argumentsDigest(call.arguments ?? null);
  const prepared = deps.tools.prepare(call.name, call.arguments);
  if (prepared instanceof ToolError) {
    const name = typeof call.name === 'string' ? call.name : '';
    state.malformed++;
    deps.log({
      event: 'tool',
      step,
      tool: name.slice(0, 64),
      argsSha256,
      bytes: 0,
      ms: 0,
      ok: false,
      error: prepared.code,
    });
    if (state.malformed > LIMITS.malformedCallsTolerated) {
      throw new RunFailure(
        'ToolCallInvalid',
        `the model made ${state.malformed} malformed tool calls; the last: ${prepared.message}`,
      );
    }
    return toolMessage(name, `error: ${deps.spotlight.neutralise(prepared.message)}`);
  }
  const key = `${prepared.name}\n${canonicalJson(prepared.args)}`;
  const times = (state.seen.get(key) ?? 0) + 1;
  state.seen.set(key, times);
  if (times >= LIMITS.repeatedCallLimit) {
    throw new RunFailure(
      'RepeatedToolCall',
      `the model called ${prepared.name} with the same arguments ${times} times; the run was stopped`,
    );
  }
  const started = state.now();
  const outcome = await deps.tools.execute(prepared);
  checkBudget(deps.signal);
  deps.log({
    event: 'tool',
    step,
    tool: prepared.name,
    argsSha256,
    bytes: outcome.bytes,
    ms: round(state.now() - started),
    ok: outcome.ok,
    ...(outcome.errorCode ? { error: outcome.errorCode } : {}),
  });
  return toolMessage(prepared.name, outcome.text);
}

function initialMessages(deps: AgentDeps): Message[] {
  const { spec, spotlight } = deps;
  const system = systemPrompt({
    spotlight,
    canary: deps.canary,
    toolNames: deps.tools.names,
    workspace: deps.workspace,
  });
  // The documents first, the instruction last: the instruction is what the model answers.
  const messages: Message[] = [{ role: 'system', content: system }];
  const inputs = spec.inputs ?? [];
  if (inputs.length > 0) {
    const documents = inputs.map((input) =>
      spotlight.wrap(input.content, { source: 'input', path: input.path }),
    );
    messages.push({
      role: 'user',
      content: `The task comes with ${inputs.length} input document(s), also saved in the workspace:\n\n${documents.join('\n\n')}`,
    });
  }
  messages.push({ role: 'user', content: spec.prompt });
  return messages;
}

async function askModel(deps: AgentDeps, request: ChatRequest): Promise<ChatTurn> {
  try {
    return await deps.chat(request, deps.signal);
  } catch (error) {
    checkBudget(deps.signal);
    if (error instanceof RunFailure) throw error;
    throw new RunFailure(
      'ModelError',
      `the model call failed: ${(error as Error)?.message ?? String(error)}`,
    );
  }
}

function finish(deps: AgentDeps, content: string, steps: number): AgentResult {
  const { answer, leaked } = redactCanary(content, deps.canary);
  deps.log({ event: 'finished', steps, bytes: Buffer.byteLength(answer) });
  return { answer, flags: leaked ? ['canary-leak'] : [], steps };
}

function checkBudget(signal: AbortSignal): void {
  if (!signal.aborted) return;
  throw signal.reason instanceof RunFailure
    ? signal.reason
    : new RunFailure('WallClockExceeded', 'the run was stopped: its wall-clock budget is spent');
}

/** The calls as the model made them, with anything that is not an object argument replaced by {}. */
function echoCalls(calls: ChatTurn['toolCalls']): NonNullable<Message['tool_calls']> {
  return calls.map((call) => ({
    function: {
      name: typeof call.name === 'string' ? call.name : '',
      arguments:
        call.arguments && typeof call.arguments === 'object' && !Array.isArray(call.arguments)
          ? (call.arguments as Record<string, unknown>)
          : {},
    },
  }));
}

function toolMessage(name: string, content: string): Message {
  return { role: 'tool', tool_name: name, content };
}

const round = (ms: number) => Math.round(ms * 10) / 10;
