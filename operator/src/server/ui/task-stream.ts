/**
 * Live updates of one task page, as server-sent events: the task (on connect
 * and after each change), its runner steps as the pod log grows, the steps'
 * state, and its audit trail whenever that changes. One session per open page;
 * every event is sent only after the approver's access to the namespace was
 * checked again (access answers are cached briefly), and a session whose
 * namespace became unreadable, or whose task is gone, ends.
 */
import type { ServerResponse } from 'node:http';
import type { AgentTask } from '../../api/types.ts';
import { errorMessage } from '../../k8s/errors.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import type { AuditTrailSource, AuditTrailView } from './audit-trail.ts';
import type { ReadPodLog } from './pod-log.ts';
import { DEFAULT_STEP_LOG_LIMIT_BYTES, StepFollower } from './step-follower.ts';
import { type InformerView, openEventStream } from './stream.ts';
import { type TaskStreamEvent, toTaskDetail } from './task-view.ts';

export interface TaskStreamSource {
  tasks: InformerView<AgentTask & KubeObject>;
  /** Whether the approver may read this namespace; must not reject (fail closed to false). */
  readable: (namespace: string) => Promise<boolean>;
  readPodLog?: ReadPodLog;
  auditTrail?: AuditTrailSource;
  now: () => Date;
}

export interface TaskStreamOptions {
  maxClients?: number;
  heartbeatMs?: number;
  maxBufferedBytes?: number;
  /** Cap of one read of a pod log (512 KiB). */
  stepLogLimitBytes?: number;
  /** Wait between pod log reads (1 s, doubling to 10 s; a task change wakes it). */
  stepRetryMs?: { min: number; max: number };
  /** How often the audit trail is looked at while a page is open (3 s; cheap when the log is unchanged). */
  auditRefreshMs?: number;
  onError?: (error: unknown) => void;
}

export const STEPS_NOT_WIRED = 'this UI server cannot read pod logs (no readPodLog configured)';

export const auditUnavailable = (message: string): AuditTrailView => ({
  available: false,
  events: [],
  total: 0,
  message,
});

const key = (t: AgentTask) => `${t.metadata.namespace}/${t.metadata.name}`;

class TaskSession {
  readonly key: string;
  private readonly namespace: string;
  private readonly uid: string;
  private readonly res: ServerResponse;
  private readonly owner: TaskStreams;
  private readonly follower: StepFollower | undefined;
  private readonly auditTimer: ReturnType<typeof setInterval> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private lastAudit = '';
  private auditBusy = false;
  private ended = false;

  constructor(owner: TaskStreams, res: ServerResponse, task: AgentTask & KubeObject) {
    this.owner = owner;
    this.res = res;
    this.key = key(task);
    this.namespace = task.metadata.namespace ?? '';
    this.uid = task.metadata.uid ?? '';
    const { src, opts } = owner;
    if (src.readPodLog) {
      this.follower = new StepFollower({
        namespace: this.namespace,
        readPodLog: src.readPodLog,
        current: () => {
          const t = this.task();
          return t ? { phase: t.status?.phase, podName: t.status?.podName } : undefined;
        },
        onSteps: (steps, from) => this.send({ type: 'steps', from, steps }),
        onStatus: (status) => this.send({ type: 'steps-status', status }),
        limitBytes: opts.stepLogLimitBytes ?? DEFAULT_STEP_LOG_LIMIT_BYTES,
        ...(opts.stepRetryMs ? { retryMs: opts.stepRetryMs } : {}),
      });
    }
    if (src.auditTrail) {
      this.auditTimer = setInterval(() => this.refreshAudit(), opts.auditRefreshMs ?? 3000);
      this.auditTimer.unref();
    }
  }

  start(): void {
    this.sendTask();
    if (this.follower) void this.follower.start();
    else this.send({ type: 'steps-status', status: { state: 'unavailable', message: STEPS_NOT_WIRED } });
    if (this.owner.src.auditTrail) this.refreshAudit();
    else {
      this.send({
        type: 'audit',
        trail: auditUnavailable('this UI server has no audit trail configured (the audit log is off)'),
      });
    }
  }

  /** The task this session shows, as the cache has it now; undefined when gone or replaced. */
  private task(): (AgentTask & KubeObject) | undefined {
    const t = this.owner.src.tasks.get(this.key);
    return t && t.metadata.uid === this.uid ? t : undefined;
  }

  changed(): void {
    if (this.ended) return;
    if (!this.task()) {
      this.send({ type: 'gone', message: `task ${this.key} was deleted` });
      this.enqueue(async () => this.end());
      return;
    }
    this.sendTask();
    this.follower?.nudge();
    this.refreshAudit();
  }

  private sendTask(): void {
    this.enqueue(async () => {
      const t = this.task();
      if (t)
        this.write({ type: 'task', serverTime: this.owner.src.now().toISOString(), task: toTaskDetail(t) });
    });
  }

  private refreshAudit(): void {
    const trail = this.owner.src.auditTrail;
    if (!trail || this.auditBusy || this.ended) return;
    this.auditBusy = true;
    const ref = { namespace: this.namespace, name: this.key.slice(this.namespace.length + 1), uid: this.uid };
    void trail(ref)
      .catch((error: unknown) => auditUnavailable(`the audit trail cannot be read: ${errorMessage(error)}`))
      .then((view) => {
        const text = JSON.stringify(view);
        if (text === this.lastAudit) return;
        this.lastAudit = text;
        this.send({ type: 'audit', trail: view });
      })
      .finally(() => {
        this.auditBusy = false;
      });
  }

  send(event: TaskStreamEvent): void {
    this.enqueue(async () => this.write(event));
  }

  heartbeat(): void {
    this.raw(': keepalive\n\n');
  }

  /** Every event goes through this chain: the access check before it never reorders them. */
  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain
      .then(async () => {
        if (this.ended) return;
        if (!(await this.owner.src.readable(this.namespace))) {
          this.end();
          return;
        }
        await step();
      })
      .catch((error: unknown) => this.owner.opts.onError?.(error));
  }

  private write(event: TaskStreamEvent): void {
    this.raw(`data: ${JSON.stringify(event)}\n\n`);
  }

  private raw(chunk: string): void {
    if (this.ended) return;
    if (this.res.writableEnded || this.res.destroyed) {
      this.end();
      return;
    }
    if (this.res.writableLength > (this.owner.opts.maxBufferedBytes ?? 4 * 1024 * 1024)) {
      this.res.destroy();
      this.end();
      return;
    }
    this.res.write(chunk);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.follower?.stop();
    clearInterval(this.auditTimer);
    if (!this.res.writableEnded) this.res.end();
    this.owner.forget(this);
  }
}

export class TaskStreams {
  readonly src: TaskStreamSource;
  readonly opts: TaskStreamOptions;
  private readonly sessions = new Set<TaskSession>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(src: TaskStreamSource, opts: TaskStreamOptions = {}) {
    this.src = src;
    this.opts = opts;
    const changed = (t: AgentTask & KubeObject) => {
      const k = key(t);
      for (const s of this.sessions) if (s.key === k) s.changed();
    };
    src.tasks.on('add', changed);
    src.tasks.on('update', changed);
    src.tasks.on('delete', changed);
    this.heartbeat = setInterval(() => {
      for (const s of this.sessions) s.heartbeat();
    }, opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Takes over a response for one task (the caller checked access and that the task exists):
   * headers, the task, then live events. False when full or closed.
   */
  attach(res: ServerResponse, headers: Record<string, string>, task: AgentTask & KubeObject): boolean {
    if (this.closed || this.sessions.size >= (this.opts.maxClients ?? 8)) return false;
    openEventStream(res, headers);
    res.write('retry: 2000\n\n');
    const session = new TaskSession(this, res, task);
    this.sessions.add(session);
    res.once('close', () => session.end());
    res.once('error', () => session.end());
    session.start();
    return true;
  }

  forget(session: TaskSession): void {
    this.sessions.delete(session);
  }

  /** Ends every open stream; clients reconnect (and authenticate again). */
  endAll(): void {
    for (const s of [...this.sessions]) s.end();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.endAll();
  }
}
