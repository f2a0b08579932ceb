/**
 * `closedpaw run "PROMPT"`: creates an AgentTask as the kubeconfig user and follows it to its end with a
 * live progress line on stderr (phase, risk, how to approve, pod state, runner steps), then prints the
 * result on stdout (or how it failed on stderr). Ctrl-C asks whether to delete the task.
 */
import { CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { RunnerStep } from '../api/agent-protocol.ts';
import { RUNTIME_CLASSES, TOOLS } from '../api/agenttask.ts';
import { AGENT_TASK, GROUP, VERSION } from '../api/meta.ts';
import type { AgentTask } from '../api/types.ts';
import {
  type CliIo,
  confirm,
  contextNamespace,
  explainApiError,
  Failure,
  isInteractive,
  runVerb,
  UsageError,
} from './common.ts';
import { followTask } from './run-follow.ts';
import { buildTask } from './run-task.ts';
import { approvalLines, outcomeOf, progressLine, stepLine } from './run-view.ts';

export const RUN_USAGE = `usage: closedpaw run "PROMPT" [options]
  Creates an AgentTask and follows it: phase, risk, approval, pod state and runner steps on stderr,
  then the result on stdout. PROMPT "-" reads the prompt from stdin.
options:
  --tools LIST            tools the agent may use, comma-separated: ${TOOLS.join(', ')} (default none)
  --model NAME            model on the cluster's Ollama (default $CLOSEDPAW_MODEL)
  --runtime NAME          sandbox runtime: ${RUNTIME_CLASSES.join(' | ')} (default gvisor)
  --timeout DURATION      the task's deadline, e.g. 90s, 10m, 1h (default 10m)
  --approval MODE         auto (ask a human only for critical tasks) | required (always ask)
  --name NAME             the task's name (default run-<random>)
  -n, --namespace NS      namespace (default: the kubeconfig context's, else "default")
  --wait                  follow the task to its end (default)
  --detach                create the task, print its name and return
  -o, --output FORMAT     json | yaml: print the final task object instead of the result
A task that uses shell or fs.write is critical: it waits until a human approves it
(closedpaw approve NAME -n NS, or the approval UI); the progress line says which NAME.
Ctrl-C asks whether to delete the task (without a terminal the task is left running).
exit codes: 0 succeeded, 1 failed / timed out / denied / expired / API error, 2 usage error,
130 interrupted`;

export const OPTIONS = {
  tools: { type: 'string' },
  model: { type: 'string' },
  runtime: { type: 'string' },
  timeout: { type: 'string' },
  approval: { type: 'string' },
  name: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  wait: { type: 'boolean', default: false },
  detach: { type: 'boolean', default: false },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface RunIo extends CliIo {
  /** Raw stderr for redrawing the progress line (\r); without it, lines are printed as they change. */
  rawStderr?(s: string): void;
  /** The prompt when PROMPT is "-". */
  readStdin?(): Promise<string>;
}

export interface RunDeps {
  kubeConfig?: KubeConfig;
  /** Registers the Ctrl-C handler; returns its removal (default: SIGINT). */
  onInterrupt?(handler: () => void): () => void;
  now?(): number;
}

const defaultInterrupt = (handler: () => void) => {
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
};

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text.replace(/\r?\n$/, '');
}

export function runRunCli(argv: string[], io: RunIo, deps: RunDeps = {}): Promise<number> {
  return runVerb(
    { name: 'run', usage: RUN_USAGE, options: OPTIONS },
    argv,
    io,
    deps,
    async ({ values, positionals, env, kubeConfig }) => {
      if (positionals.length === 0) throw new UsageError('missing the prompt: closedpaw run "what to do"');
      if (positionals.length > 1) {
        throw new UsageError(`one prompt only, got ${positionals.length} arguments: quote the prompt`);
      }
      if (values.wait && values.detach) throw new UsageError('use either --wait or --detach, not both');
      const output = values.output;
      if (output !== undefined && output !== 'json' && output !== 'yaml') {
        throw new UsageError(`-o: unknown format "${output}"; use json or yaml`);
      }
      let prompt = positionals[0]!;
      if (prompt === '-') prompt = await (io.readStdin?.() ?? readAll(process.stdin));
      // Validated before the cluster is even contacted.
      const draft = buildTask(
        {
          prompt,
          namespace: values.namespace ?? 'default',
          ...(values.tools !== undefined ? { tools: values.tools } : {}),
          ...(values.model !== undefined ? { model: values.model } : {}),
          ...(values.runtime !== undefined ? { runtime: values.runtime } : {}),
          ...(values.timeout !== undefined ? { timeout: values.timeout } : {}),
          ...(values.approval !== undefined ? { approval: values.approval } : {}),
          ...(values.name !== undefined ? { name: values.name } : {}),
        },
        env,
      );
      const kc = kubeConfig();
      const namespace = values.namespace ?? contextNamespace(kc);
      draft.metadata.namespace = namespace;
      const created = await createTask(kc, draft);
      const name = created.metadata.name!;
      if (values.detach) {
        if (output) io.stdout(render(created, output));
        else {
          io.stdout(`${name}\n`);
          io.stderr(
            `agenttask ${namespace}/${name} created; follow it: kubectl get agenttask ${name} -n ${namespace} -w\n`,
          );
        }
        return 0;
      }
      const final = await follow(kc, created, io, deps);
      if (final === 'interrupted') return 130;
      const outcome = outcomeOf(final);
      if (output) io.stdout(render(final, output));
      else if (outcome.stdout) io.stdout(outcome.stdout);
      io.stderr(`${outcome.stderr.join('\n')}\n`);
      return outcome.code;
    },
  );
}

const render = (task: AgentTask, format: 'json' | 'yaml') =>
  format === 'json' ? `${JSON.stringify(task, null, 2)}\n` : stringify(task);

async function createTask(kc: KubeConfig, draft: AgentTask): Promise<AgentTask> {
  const namespace = draft.metadata.namespace!;
  try {
    return (await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: AGENT_TASK.plural,
      namespace,
      body: draft,
      fieldManager: 'closedpaw-cli',
    })) as AgentTask;
  } catch (error) {
    throw new Failure(explainApiError(error, kc, `create agenttasks in namespace ${namespace}`));
  }
}

/** The progress display: one live line on a terminal, changed lines only otherwise. */
class Progress {
  private readonly io: RunIo;
  private readonly live: boolean;
  private shown = '';
  private lastPrinted = '';

  constructor(io: RunIo) {
    this.io = io;
    this.live = Boolean(io.rawStderr) && (io.terminal ?? process.stderr.isTTY === true);
  }

  /** A permanent line above the live one. */
  line(text: string): void {
    if (this.live) {
      this.io.rawStderr!(`\r\x1b[2K${text}\n${this.shown}`);
    } else {
      this.io.stderr(`${text}\n`);
    }
  }

  status(text: string, key: string): void {
    if (this.live) {
      this.shown = text;
      this.io.rawStderr!(`\r\x1b[2K${text}`);
    } else if (key !== this.lastPrinted) {
      this.lastPrinted = key;
      this.io.stderr(`${text}\n`);
    }
  }

  clear(): void {
    if (this.live && this.shown) this.io.rawStderr!('\r\x1b[2K');
    this.shown = '';
  }
}

async function follow(
  kc: KubeConfig,
  created: AgentTask,
  io: RunIo,
  deps: RunDeps,
): Promise<AgentTask | 'interrupted'> {
  const now = deps.now ?? Date.now;
  const started = now();
  const progress = new Progress(io);
  const name = created.metadata.name!;
  const namespace = created.metadata.namespace!;
  let task = created;
  let pod: V1Pod | undefined;
  let lastStep: RunnerStep | undefined;
  let approvalShown = '';

  const redraw = () => {
    const line = progressLine({ task, pod, lastStep, elapsedSeconds: (now() - started) / 1000 });
    progress.status(line, line.replace(/ · \d+s$/, ''));
  };
  progress.line(`agenttask ${namespace}/${name} created`);
  redraw();
  const ticker = setInterval(redraw, 1000);
  ticker.unref();

  const controller = new AbortController();
  let interrupted = false;
  const removeInterrupt = (deps.onInterrupt ?? defaultInterrupt)(() => {
    if (interrupted) return;
    interrupted = true;
    controller.abort();
  });
  try {
    const final = await followTask(
      kc,
      created,
      {
        task: (next) => {
          task = next;
          const approval = next.status?.approvalRef?.name ?? '';
          if (next.status?.phase === 'AwaitingApproval' && approval !== approvalShown) {
            approvalShown = approval;
            for (const text of approvalLines(next)) progress.line(text);
          }
          redraw();
        },
        pod: (next) => {
          pod = next;
          redraw();
        },
        step: (step) => {
          lastStep = step;
          progress.line(stepLine(step));
          redraw();
        },
        note: (text) => progress.line(`note: ${text}`),
      },
      controller.signal,
    );
    clearInterval(ticker);
    progress.clear();
    return final;
  } catch (error) {
    clearInterval(ticker);
    progress.clear();
    if (!interrupted) throw error;
    await onInterrupted(kc, task, io);
    return 'interrupted';
  } finally {
    removeInterrupt();
  }
}

/** Ctrl-C: on a terminal, ask whether to delete the task; without one, leave it and say how to. */
async function onInterrupted(kc: KubeConfig, task: AgentTask, io: RunIo): Promise<void> {
  const name = task.metadata.name!;
  const namespace = task.metadata.namespace!;
  const remove = isInteractive(io)
    ? await confirm(io, `\nDelete task ${name}? [y/N] `).catch(() => false)
    : false;
  if (!remove) {
    io.stderr(
      `stopped following; task ${namespace}/${name} goes on (${task.status?.phase ?? 'Pending'}).\n` +
        `  follow:  kubectl get agenttask ${name} -n ${namespace} -w\n` +
        `  delete:  kubectl delete agenttask ${name} -n ${namespace}\n`,
    );
    return;
  }
  try {
    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: AGENT_TASK.plural,
      namespace,
      name,
    });
    io.stderr(`deleted task ${namespace}/${name} (its pod and NetworkPolicy go with it)\n`);
  } catch (error) {
    io.stderr(
      `could not delete task ${namespace}/${name}: ${explainApiError(error, kc, `delete agenttasks in namespace ${namespace}`)}\n`,
    );
  }
}
