/**
 * The tools the model may call: only those the task allows, under the names
 * the model sees, each with a zod schema for its arguments (the JSON schema
 * the model is shown is generated from it). A call is first `prepare`d —
 * unknown names and bad arguments are malformed calls — then `execute`d;
 * execution errors become a message for the model, never an exception.
 */
import type { Tool as ModelTool } from 'ollama';
import { z } from 'zod';
import type { TOOLS } from '../../api/agenttask.ts';
import { LIMITS } from '../limits.ts';
import type { Spotlight } from '../spotlight.ts';
import type { FileTools } from './fs.ts';
import { runShell } from './shell.ts';
import { quoted, ToolError } from './tool-error.ts';

export type TaskTool = (typeof TOOLS)[number];

/** Task tool → the name the model sees. */
export const MODEL_TOOL_NAMES = {
  'fs.list': 'list_files',
  'fs.read': 'read_file',
  'fs.write': 'write_file',
  shell: 'run_shell',
} as const satisfies Record<TaskTool, string>;

const pathField = z.string().describe('Path relative to the workspace, e.g. notes/todo.md');

const ARGUMENTS = {
  'fs.list': z.object({ path: pathField.default('.').describe('Directory to list; "." is the workspace') }),
  'fs.read': z.object({ path: pathField.min(1) }),
  'fs.write': z.object({
    path: pathField.min(1),
    content: z.string().describe('The whole new content of the file (UTF-8 text)'),
  }),
  shell: z.object({
    command: z
      .string()
      .min(1)
      .max(LIMITS.shellCommandMaxChars)
      .describe('A /bin/sh command, run in the workspace'),
    timeout_seconds: z
      .int()
      .min(1)
      .optional()
      .describe(`Seconds before the command is killed; at most ${LIMITS.shellTimeoutSeconds} (the default)`),
  }),
} as const;

const DESCRIPTIONS: Record<TaskTool, string> = {
  'fs.list': 'List the entries of a directory in the workspace.',
  'fs.read': `Read a UTF-8 text file from the workspace (at most ${LIMITS.readMaxBytes} bytes).`,
  'fs.write': `Create or replace a text file in the workspace (at most ${LIMITS.writeMaxBytes} bytes), creating missing directories.`,
  shell: `Run a shell command in the workspace; returns its exit code and output (at most ${LIMITS.shellOutputMaxBytes} bytes, head and tail).`,
};

export interface ToolContext {
  files: FileTools;
  workspace: string;
  spotlight: Spotlight;
  /** The run's wall-clock budget: ends a running shell command. */
  signal: AbortSignal;
  remainingMs: () => number;
}

export type PreparedCall = { tool: TaskTool; name: string; args: Record<string, unknown> };

export interface ToolOutcome {
  /** What the model sees. */
  text: string;
  ok: boolean;
  /** Size of the tool's own output (or of what was written). */
  bytes: number;
  errorCode?: string;
}

export interface ToolBox {
  readonly definitions: ModelTool[];
  readonly names: readonly string[];
  prepare(name: unknown, args: unknown): PreparedCall | ToolError;
  execute(call: PreparedCall): Promise<ToolOutcome>;
}

export function createToolBox(allowed: readonly TaskTool[], context: ToolContext): ToolBox {
  const tools = [...new Set(allowed)].sort();
  const byName = new Map(tools.map((t) => [MODEL_TOOL_NAMES[t] as string, t]));
  const names = [...byName.keys()];
  return {
    names,
    definitions: tools.map(definition),
    prepare(name, args) {
      const tool = typeof name === 'string' ? byName.get(name) : undefined;
      if (tool === undefined) return unknownTool(name, names);
      if (!args || typeof args !== 'object' || Array.isArray(args)) {
        return new ToolError('invalid_arguments', `the arguments of ${name} must be a JSON object`);
      }
      const parsed = ARGUMENTS[tool].safeParse(args);
      if (!parsed.success) {
        return new ToolError(
          'invalid_arguments',
          `invalid arguments for ${name}: ${z.prettifyError(parsed.error)}`,
        );
      }
      return { tool, name: name as string, args: parsed.data };
    },
    async execute(call) {
      try {
        return await run(call, context);
      } catch (error) {
        const toolError =
          error instanceof ToolError
            ? error
            : new ToolError(
                'io_error',
                `${call.name} failed: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
              );
        return {
          text: `error: ${context.spotlight.neutralise(toolError.message)}`,
          ok: false,
          bytes: 0,
          errorCode: toolError.code,
        };
      }
    },
  };
}

function definition(tool: TaskTool): ModelTool {
  const { $schema: _, ...parameters } = z.toJSONSchema(ARGUMENTS[tool], { io: 'input' }) as Record<
    string,
    unknown
  >;
  return {
    type: 'function',
    function: {
      name: MODEL_TOOL_NAMES[tool],
      description: DESCRIPTIONS[tool],
      parameters: parameters as NonNullable<ModelTool['function']['parameters']>,
    },
  };
}

function unknownTool(name: unknown, names: readonly string[]): ToolError {
  const what =
    typeof name === 'string' && name.length > 0 ? `the tool ${quoted(name, 64)}` : 'a tool without a name';
  const allowed =
    names.length > 0
      ? `the tools you may call are: ${names.join(', ')}`
      : 'you have no tools; answer in plain text';
  return new ToolError('unknown_tool', `${what} is not available to this task; ${allowed}`);
}

async function run(call: PreparedCall, context: ToolContext): Promise<ToolOutcome> {
  const { spotlight, files } = context;
  const wrap = (text: string) => spotlight.wrap(text, { source: call.name });
  switch (call.tool) {
    case 'fs.list': {
      const text = files.list(call.args.path as string);
      return { text: wrap(text), ok: true, bytes: Buffer.byteLength(text) };
    }
    case 'fs.read': {
      const text = files.read(call.args.path as string);
      return { text: wrap(text), ok: true, bytes: Buffer.byteLength(text) };
    }
    case 'fs.write': {
      const content = call.args.content as string;
      const message = files.write(call.args.path as string, content);
      return { text: spotlight.neutralise(message), ok: true, bytes: Buffer.byteLength(content) };
    }
    case 'shell':
      return runShellTool(call, context);
  }
}

async function runShellTool(call: PreparedCall, context: ToolContext): Promise<ToolOutcome> {
  const asked = (call.args.timeout_seconds as number | undefined) ?? LIMITS.shellTimeoutSeconds;
  const seconds = Math.min(asked, LIMITS.shellTimeoutSeconds);
  const timeoutMs = Math.max(0, Math.min(seconds * 1000, context.remainingMs()));
  const result = await runShell(call.args.command as string, {
    cwd: context.workspace,
    timeoutMs,
    signal: context.signal,
  });
  const notes = [
    `exit code: ${result.exitCode}`,
    ...(result.timedOut
      ? [`timed out after ${timeoutMs / 1000} s; the command's process group was killed`]
      : []),
    ...(asked > seconds ? [`timeout_seconds was capped at ${LIMITS.shellTimeoutSeconds}`] : []),
  ];
  const output =
    result.output.length > 0 ? context.spotlight.wrap(result.output, { source: call.name }) : '(no output)';
  return {
    text: `${notes.join('\n')}\n${output}`,
    ok: !result.timedOut,
    bytes: result.totalBytes,
    ...(result.timedOut ? { errorCode: 'timeout' } : {}),
  };
}
