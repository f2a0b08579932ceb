/**
 * Live updates for the UI: the informers' events become server-sent events.
 * A client gets a full snapshot on connect, then upserts and deletes; a client
 * that reconnects simply gets a fresh snapshot, so nothing needs replaying.
 */
import type { ServerResponse } from 'node:http';
import type { AgentTask, Approval } from '../../api/types.ts';
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import { type ApprovalView, approvalKey, type StreamEvent, toApprovalView } from './view.ts';

/** The part of an Informer the UI uses (an Informer fits; so does a test fake). */
export type InformerView<T extends KubeObject> = Pick<Informer<T>, 'get' | 'list' | 'on'>;

export interface ApprovalSource {
  approvals: InformerView<Approval & KubeObject>;
  tasks: InformerView<AgentTask & KubeObject>;
  now: () => Date;
}

/** Every approval, joined with its task. */
export function approvalViews(src: ApprovalSource): ApprovalView[] {
  const now = src.now();
  return src.approvals
    .list()
    .map((a) => toApprovalView(a, src.tasks.get(`${a.metadata.namespace}/${a.spec.taskRef.name}`), now));
}

export function approvalView(src: ApprovalSource, namespace: string, name: string): ApprovalView | undefined {
  const a = src.approvals.get(`${namespace}/${name}`);
  if (!a) return undefined;
  return toApprovalView(a, src.tasks.get(`${namespace}/${a.spec.taskRef.name}`), src.now());
}

export interface StreamOptions {
  /** Comment lines keep idle connections (and proxies, if any) alive. */
  heartbeatMs?: number;
  maxClients?: number;
  /** A client this far behind (bytes buffered) is dropped; it reconnects and gets a snapshot. */
  maxBufferedBytes?: number;
}

export class ApprovalStream {
  private readonly src: ApprovalSource;
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly maxClients: number;
  private readonly maxBuffered: number;
  private closed = false;

  constructor(src: ApprovalSource, opts: StreamOptions = {}) {
    this.src = src;
    this.maxClients = opts.maxClients ?? 16;
    this.maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
    const upsert = (a: Approval & KubeObject) => this.publishApproval(a);
    src.approvals.on('add', upsert);
    src.approvals.on('update', upsert);
    src.approvals.on('delete', (a) =>
      this.broadcast({ type: 'delete', serverTime: this.src.now().toISOString(), key: approvalKey(a) }),
    );
    const taskChanged = (t: AgentTask & KubeObject) => {
      if (this.clients.size === 0) return;
      for (const a of this.src.approvals.list()) {
        if (a.metadata.namespace === t.metadata.namespace && a.spec.taskRef.name === t.metadata.name) {
          this.publishApproval(a);
        }
      }
    };
    src.tasks.on('add', taskChanged);
    src.tasks.on('update', taskChanged);
    src.tasks.on('delete', taskChanged);
    this.heartbeat = setInterval(() => {
      for (const res of this.clients) this.write(res, ': keepalive\n\n');
    }, opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over a response: headers, then a snapshot, then live events. False when full or closed. */
  attach(res: ServerResponse, headers: Record<string, string>): boolean {
    if (this.closed || this.clients.size >= this.maxClients) return false;
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    this.clients.add(res);
    const drop = () => this.clients.delete(res);
    res.once('close', drop);
    res.once('error', drop);
    this.write(res, 'retry: 2000\n\n');
    this.send(res, {
      type: 'snapshot',
      serverTime: this.src.now().toISOString(),
      approvals: approvalViews(this.src),
    });
    return true;
  }

  /** Ends every stream (server shutdown). */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private publishApproval(a: Approval): void {
    if (this.closed || this.clients.size === 0) return;
    const view = toApprovalView(
      a,
      this.src.tasks.get(`${a.metadata.namespace}/${a.spec.taskRef.name}`),
      this.src.now(),
    );
    this.broadcast({ type: 'upsert', serverTime: this.src.now().toISOString(), approval: view });
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
