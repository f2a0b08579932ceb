/**
 * Live updates for the UI: the informers' events become server-sent events.
 * A client gets a full snapshot on connect (approvals and task rows), then
 * upserts and deletes; a client that reconnects simply gets a fresh snapshot,
 * so nothing needs replaying. Only approvals and tasks in namespaces the
 * approver may read are ever sent.
 */

import type { ServerResponse } from 'node:http';
import type { AgentTask, Approval } from '../../api/types.ts';
import type { CloudSettings } from '../../gateway/providers/catalog.ts';
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import { type TaskSummaryView, taskKey, toTaskSummary } from './task-view.ts';
import { type ApprovalView, approvalKey, type StreamEvent, toApprovalView } from './view.ts';

/** The part of an Informer the UI uses (an Informer fits; so does a test fake). */
export type InformerView<T extends KubeObject> = Pick<Informer<T>, 'get' | 'list' | 'on'>;

export interface ApprovalSource {
  approvals: InformerView<Approval & KubeObject>;
  tasks: InformerView<AgentTask & KubeObject>;
  now: () => Date;
  ttlSeconds: number;
  /** The operator's cloud models, for the risk shown (a task on one is critical). */
  cloud?: CloudSettings;
  /** Whether the approver may read this namespace; must not reject (fail closed to false). */
  readable: (namespace: string) => Promise<boolean>;
}

const taskOf = (src: ApprovalSource, a: Approval) =>
  src.tasks.get(`${a.metadata.namespace}/${a.spec.taskRef.name}`);

export const viewOf = (src: ApprovalSource, a: Approval): ApprovalView =>
  toApprovalView(a, taskOf(src, a), {
    now: src.now(),
    ttlSeconds: src.ttlSeconds,
    ...(src.cloud ? { cloud: src.cloud } : {}),
  });

/** The objects whose namespace the approver may read (each namespace asked once). */
export async function readableOnly<T extends KubeObject>(
  readable: (namespace: string) => Promise<boolean>,
  all: T[],
): Promise<T[]> {
  const namespaces = [...new Set(all.map((o) => o.metadata?.namespace ?? ''))];
  const allowed = new Set<string>();
  await Promise.all(
    namespaces.map(async (ns) => {
      if (await readable(ns)) allowed.add(ns);
    }),
  );
  return all.filter((o) => allowed.has(o.metadata?.namespace ?? ''));
}

/** Every approval the approver may read, joined with its task. */
export async function approvalViews(src: ApprovalSource): Promise<ApprovalView[]> {
  return (await readableOnly(src.readable, src.approvals.list())).map((a) => viewOf(src, a));
}

/** A row for every task the approver may read. */
export async function taskSummaries(src: ApprovalSource): Promise<TaskSummaryView[]> {
  return (await readableOnly(src.readable, src.tasks.list())).map(toTaskSummary);
}

/** One approval (the caller checked that its namespace is readable). */
export function approvalView(src: ApprovalSource, namespace: string, name: string): ApprovalView | undefined {
  const a = src.approvals.get(`${namespace}/${name}`);
  return a ? viewOf(src, a) : undefined;
}

export interface StreamOptions {
  /** Comment lines keep idle connections (and proxies, if any) alive. */
  heartbeatMs?: number;
  maxClients?: number;
  /** A client this far behind (bytes buffered) is dropped; it reconnects and gets a snapshot. */
  maxBufferedBytes?: number;
  /** Hears a failure to build or send an event (the event is skipped; clients get it with their next snapshot). */
  onError?: (error: unknown) => void;
}

export class ApprovalStream {
  private readonly src: ApprovalSource;
  private readonly clients = new Set<ServerResponse>();
  /** Attached, waiting for their snapshot: they get no events before it. */
  private readonly joining = new Set<ServerResponse>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly maxClients: number;
  private readonly maxBuffered: number;
  private closed = false;
  /**
   * Every event and every snapshot goes through this chain, one after the other, so the
   * access checks (asynchronous) never reorder what a client sees.
   */
  private chain: Promise<void> = Promise.resolve();
  private readonly onError: (error: unknown) => void;

  constructor(src: ApprovalSource, opts: StreamOptions = {}) {
    this.src = src;
    this.maxClients = opts.maxClients ?? 16;
    this.maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.onError = opts.onError ?? (() => undefined);
    const upsert = (a: Approval & KubeObject) => this.publishApproval(a);
    src.approvals.on('add', upsert);
    src.approvals.on('update', upsert);
    src.approvals.on('delete', (a) =>
      this.enqueue(async () => {
        if (!(await this.src.readable(a.metadata.namespace ?? ''))) return;
        this.broadcast({ type: 'delete', serverTime: this.src.now().toISOString(), key: approvalKey(a) });
      }),
    );
    const taskChanged = (t: AgentTask & KubeObject, deleted = false) => {
      if (this.clients.size + this.joining.size === 0) return;
      this.publishTask(t, deleted);
      for (const a of this.src.approvals.list()) {
        if (a.metadata.namespace === t.metadata.namespace && a.spec.taskRef.name === t.metadata.name) {
          this.publishApproval(a);
        }
      }
    };
    src.tasks.on('add', (t) => taskChanged(t));
    src.tasks.on('update', (t) => taskChanged(t));
    src.tasks.on('delete', (t) => taskChanged(t, true));
    this.heartbeat = setInterval(() => {
      for (const res of this.clients) this.write(res, ': keepalive\n\n');
    }, opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size + this.joining.size;
  }

  /** Takes over a response: headers, then a snapshot, then live events. False when full or closed. */
  attach(res: ServerResponse, headers: Record<string, string>): boolean {
    if (this.closed || this.clients.size + this.joining.size >= this.maxClients) return false;
    openEventStream(res, headers);
    this.joining.add(res);
    const drop = () => {
      this.joining.delete(res);
      this.clients.delete(res);
    };
    res.once('close', drop);
    res.once('error', drop);
    this.write(res, 'retry: 2000\n\n');
    // In the chain: events queued before the snapshot are in it; events queued after it follow it.
    this.enqueue(async () => {
      const approvals = await approvalViews(this.src);
      const tasks = await taskSummaries(this.src);
      if (!this.joining.delete(res) || this.closed) return;
      this.clients.add(res);
      this.send(res, { type: 'snapshot', serverTime: this.src.now().toISOString(), approvals, tasks });
    });
    return true;
  }

  /** Ends every open stream; clients reconnect (and authenticate again). */
  endAll(): void {
    for (const res of [...this.clients, ...this.joining]) res.end();
    this.clients.clear();
    this.joining.clear();
  }

  /** Ends every stream for good (server shutdown). */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.endAll();
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch(this.onError);
  }

  private publishApproval(a: Approval): void {
    if (this.closed || this.clients.size + this.joining.size === 0) return;
    this.enqueue(async () => {
      if (!(await this.src.readable(a.metadata.namespace ?? ''))) return;
      const approval = viewOf(this.src, a);
      this.broadcast({ type: 'upsert', serverTime: this.src.now().toISOString(), approval });
    });
  }

  private publishTask(t: AgentTask, deleted: boolean): void {
    if (this.closed) return;
    this.enqueue(async () => {
      if (!(await this.src.readable(t.metadata.namespace ?? ''))) return;
      const serverTime = this.src.now().toISOString();
      this.broadcast(
        deleted
          ? { type: 'task-delete', serverTime, key: taskKey(t) }
          : { type: 'task-upsert', serverTime, task: toTaskSummary(t) },
      );
    });
  }

  private broadcast(event: StreamEvent): void {
    if (this.closed) return;
    const frame = `data: ${JSON.stringify(event)}\n\n`;
    for (const res of this.clients) this.write(res, frame);
  }

  private send(res: ServerResponse, event: StreamEvent): void {
    this.write(res, `data: ${JSON.stringify(event)}\n\n`);
  }

  private write(res: ServerResponse, chunk: string): void {
    if (res.writableEnded || res.destroyed) {
      this.clients.delete(res);
      return;
    }
    if (res.writableLength > this.maxBuffered) {
      this.clients.delete(res);
      res.destroy();
      return;
    }
    res.write(chunk);
  }
}

/** Sends the headers of a Server-Sent Events response (unbuffered by proxies) at once. */
export function openEventStream(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
}
