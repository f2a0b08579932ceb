/**
 * Follows one AgentTask to its end: a watch on the task (never polling), a watch on its pod, and the
 * pod's log for the runner's step lines once the agent container has started. Watches that end are
 * resumed from the last resourceVersion seen (or re-read after 410 Gone). Everything the user may not
 * read (pods, logs) is skipped with one note, never a failure.
 */
import { Writable } from 'node:stream';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  Log,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import type { RunnerStep } from '../api/agent-protocol.ts';
import { parseStepLine } from '../api/agent-protocol.ts';
import { AGENT_TASK, GROUP, VERSION } from '../api/meta.ts';
import type { AgentTask } from '../api/types.ts';
import { statusCode } from '../k8s/errors.ts';
import { controllerUid } from '../sandbox/names.ts';
import { AGENT_CONTAINER } from '../sandbox/pod.ts';
import { Failure } from './common.ts';
import { isTerminal } from './run-view.ts';

export interface FollowEvents {
  task(task: AgentTask): void;
  pod(pod: V1Pod | undefined): void;
  step(step: RunnerStep): void;
  /** Something could not be followed (no RBAC for pods or logs): said once. */
  note(text: string): void;
}

/** Splits a byte stream into lines and hands each step line on; counts the steps it saw. */
class StepLines extends Writable {
  private rest = '';
  seen = 0;
  private readonly skip: number;
  private readonly onStep: (step: RunnerStep) => void;

  constructor(onStep: (step: RunnerStep) => void, skip = 0) {
    super();
    this.onStep = onStep;
    this.skip = skip;
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    const text = this.rest + chunk.toString();
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    // A result frame line can be long: keep only what a step line could be.
    if (this.rest.length > 64 * 1024) this.rest = '';
    for (const line of lines) this.line(line);
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    if (this.rest) this.line(this.rest);
    this.rest = '';
    done();
  }

  private line(line: string): void {
    const step = parseStepLine(line);
    if (!step) return;
    this.seen++;
    if (this.seen > this.skip) this.onStep(step);
  }
}

const agentStarted = (pod: V1Pod | undefined) => {
  const state = pod?.status?.containerStatuses?.find((s) => s.name === AGENT_CONTAINER)?.state;
  return Boolean(state?.running || state?.terminated);
};

/** The final log read is bounded: the result frame may be large, step lines come before it. */
const FINAL_LOG_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * Resolves with the task once it is terminal. Rejects with a Failure when it is deleted meanwhile.
 * `signal` stops everything (Ctrl-C).
 */
export async function followTask(
  kc: KubeConfig,
  initial: AgentTask,
  events: FollowEvents,
  signal: AbortSignal,
): Promise<AgentTask> {
  const namespace = initial.metadata.namespace!;
  const name = initial.metadata.name!;
  const podName = `${name}-agent`;
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const watch = new Watch(kc);
  const controllers = new Set<AbortController>();
  const noted = new Set<string>();
  const note = (key: string, text: string) => {
    if (noted.has(key)) return;
    noted.add(key);
    events.note(text);
  };

  let task = initial;
  let pod: V1Pod | undefined;
  let stepsSeen = 0;
  let streaming: { done: Promise<void>; abort: () => void } | undefined;
  let logFailed = false;

  const { promise, resolve, reject } = Promise.withResolvers<AgentTask>();
  let settled = false;
  const finish = (outcome: { task: AgentTask } | { error: Error }) => {
    if (settled) return;
    settled = true;
    for (const c of controllers) c.abort();
    if ('task' in outcome) resolve(outcome.task);
    else reject(outcome.error);
  };
  signal.addEventListener('abort', () => finish({ error: new Failure('interrupted') }), { once: true });

  const onStep = (step: RunnerStep) => events.step(step);

  const startLog = () => {
    if (streaming || logFailed || noted.has('log') || !agentStarted(pod)) return;
    const lines = new StepLines(onStep);
    const { promise: done, resolve: ended } = Promise.withResolvers<void>();
    lines.on('finish', () => ended());
    let controller: AbortController | undefined;
    streaming = { done, abort: () => controller?.abort() };
    new Log(kc)
      .log(namespace, podName, AGENT_CONTAINER, lines, { follow: true })
      .then((c) => {
        controller = c;
        controllers.add(c);
      })
      .catch((error: unknown) => {
        stepsSeen = lines.seen;
        streaming = undefined;
        if (statusCode(error) === 403)
          note('log', 'cannot read the pod log (RBAC: get pods/log): runner steps are not shown');
        else logFailed = true; // not readable yet: read once more when the pod has ended
        ended();
      });
    void done.then(() => {
      stepsSeen = Math.max(stepsSeen, lines.seen);
    });
  };

  /** After the end: the steps not streamed yet, from one bounded read of the log. */
  const finalSteps = async () => {
    if (!pod || noted.has('log')) return;
    if (streaming) {
      await Promise.race([streaming.done, new Promise((r) => setTimeout(r, 2000).unref())]);
      streaming.abort();
      return;
    }
    const lines = new StepLines(onStep, stepsSeen);
    try {
      const c = await new Log(kc).log(namespace, podName, AGENT_CONTAINER, lines, {
        limitBytes: FINAL_LOG_LIMIT_BYTES,
      });
      controllers.add(c);
      await Promise.race([
        new Promise((r) => lines.on('finish', r)),
        new Promise((r) => setTimeout(r, 5000).unref()),
      ]);
    } catch (error) {
      if (statusCode(error) === 403)
        note('log', 'cannot read the pod log (RBAC: get pods/log): runner steps are not shown');
    }
  };

  const onTask = (next: AgentTask) => {
    task = next;
    events.task(task);
    if (isTerminal(task)) {
      void finalSteps().finally(() => finish({ task }));
    }
  };

  const onPod = (next: V1Pod | undefined) => {
    // The pod of an earlier task with the same name is not this task's.
    pod = next && controllerUid(next) === initial.metadata.uid ? next : undefined;
    events.pod(pod);
    startLog();
  };

  /** A watch of one object by name, resumed when it ends; `reread` gives the current state after a 410. */
  const watchOne = (
    path: string,
    objectName: string,
    resourceVersion: string | undefined,
    handle: (type: string, obj: unknown) => void,
    reread: () => Promise<string | undefined>,
    onForbidden: () => void,
  ) => {
    let rv = resourceVersion;
    const start = async (): Promise<void> => {
      if (settled) return;
      const controller = await watch.watch(
        path,
        {
          fieldSelector: `metadata.name=${objectName}`,
          allowWatchBookmarks: true,
          ...(rv ? { resourceVersion: rv } : {}),
        },
        (type, obj: { metadata?: { resourceVersion?: string }; code?: number }) => {
          if (type === 'ERROR') {
            rv = undefined; // 410 Gone: read again below
            return;
          }
          if (obj?.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
          if (type !== 'BOOKMARK') handle(type, obj);
        },
        (error: unknown) => {
          if (settled) return;
          if (statusCode(error) === 403) return onForbidden();
          void (async () => {
            if (error) await new Promise((r) => setTimeout(r, 1000));
            if (!rv) rv = await reread().catch(() => undefined);
            await start().catch(retry);
          })();
        },
      );
      controllers.add(controller);
    };
    const retry = (error: unknown) => {
      if (settled) return;
      if (statusCode(error) === 403) return onForbidden();
      setTimeout(() => void start().catch(retry), 1000).unref();
    };
    void start().catch(retry);
  };

  const taskPath = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${AGENT_TASK.plural}`;
  const readTask = async () => {
    try {
      const current = (await custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: AGENT_TASK.plural,
        namespace,
        name,
      })) as AgentTask;
      if (current.metadata.uid !== initial.metadata.uid) {
        finish({ error: new Failure(`task ${name} was deleted and created again by someone else`) });
        return undefined;
      }
      onTask(current);
      return current.metadata.resourceVersion;
    } catch (error) {
      if (statusCode(error) === 404)
        finish({ error: new Failure(`task ${name} was deleted before it finished`) });
      throw error;
    }
  };
  watchOne(
    taskPath,
    name,
    initial.metadata.resourceVersion,
    (type, obj) => {
      const next = obj as AgentTask;
      if (next.metadata.uid !== initial.metadata.uid) return;
      if (type === 'DELETED') finish({ error: new Failure(`task ${name} was deleted before it finished`) });
      else onTask(next);
    },
    readTask,
    () =>
      finish({
        error: new Failure(`you may not watch agenttasks in namespace ${namespace} (RBAC: watch agenttasks)`),
      }),
  );

  const readPod = async () => {
    try {
      const current = await core.readNamespacedPod({ namespace, name: podName });
      onPod(current);
      return current.metadata?.resourceVersion;
    } catch (error) {
      if (statusCode(error) === 404) {
        onPod(undefined);
        const list = await core.listNamespacedPod({
          namespace,
          fieldSelector: `metadata.name=${podName}`,
          limit: 1,
        });
        return list.metadata?.resourceVersion;
      }
      throw error;
    }
  };
  const podNote = () =>
    note('pod', `cannot watch pods in namespace ${namespace} (RBAC: watch pods): pod state is not shown`);
  try {
    const rv = await readPod();
    watchOne(
      `/api/v1/namespaces/${namespace}/pods`,
      podName,
      rv,
      (type, obj) => onPod(type === 'DELETED' ? undefined : (obj as V1Pod)),
      readPod,
      podNote,
    );
  } catch (error) {
    if (statusCode(error) === 403) podNote();
    else throw error;
  }
  if (isTerminal(initial)) onTask(initial);
  return await promise;
}
