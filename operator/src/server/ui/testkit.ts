/** Test doubles for the approval UI server: in-memory informers, fixtures, a captured logger. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { type AgentTaskSpec, agentTaskSpecSchema } from '../../api/agenttask.ts';
import { API_VERSION } from '../../api/meta.ts';
import type { AgentTask, Approval } from '../../api/types.ts';
import { specDigest } from '../../policy/digest.ts';
import type { InformerEvent, KubeObject } from '../../runtime/informer.ts';

/** Holds objects by `ns/name` and fires handlers like an Informer. */
export class FakeInformer<T extends KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly handlers: Record<InformerEvent, Array<(obj: T, old?: T) => void>> = {
    add: [],
    update: [],
    delete: [],
  };

  private key(obj: T): string {
    return `${obj.metadata?.namespace}/${obj.metadata?.name}`;
  }

  on(event: InformerEvent, handler: (obj: T, old?: T) => void): void {
    this.handlers[event].push(handler);
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  set(obj: T): void {
    const old = this.items.get(this.key(obj));
    this.items.set(this.key(obj), obj);
    for (const h of this.handlers[old ? 'update' : 'add']) h(obj, old);
  }

  remove(obj: T): void {
    this.items.delete(this.key(obj));
    for (const h of this.handlers.delete) h(obj);
  }
}

export const NS = 'team-a';
export const TOKEN = 'tok_0123456789abcdefghijklmnopqrstuvwxyzABCDEF';
export const PORT = 7780;
export const HOST = `127.0.0.1:${PORT}`;
export const ORIGIN = `http://${HOST}`;

export function taskFixture(name: string, spec: Partial<AgentTaskSpec> = {}, uid = `uid-${name}`): AgentTask {
  return {
    apiVersion: API_VERSION,
    kind: 'AgentTask',
    metadata: { name, namespace: NS, uid, resourceVersion: '1' },
    spec: agentTaskSpecSchema.parse({
      prompt: 'Delete the temp files in /workspace.',
      model: 'llama3.2:3b',
      runtimeClassName: 'gvisor',
      tools: ['shell'],
      approval: 'auto',
      timeoutSeconds: 600,
      resources: { cpu: '500m', memory: '512Mi', ephemeralStorage: '1Gi' },
      ...spec,
    }),
    status: { phase: 'AwaitingApproval' },
  };
}

export function approvalFixture(
  task: AgentTask,
  extra: {
    spec?: Partial<Approval['spec']>;
    status?: Approval['status'];
    name?: string;
    metadata?: Partial<Approval['metadata']>;
  } = {},
): Approval {
  const digest = specDigest(task.spec);
  const created = new Date();
  return {
    apiVersion: API_VERSION,
    kind: 'Approval',
    metadata: {
      name: extra.name ?? `${task.metadata.name}-${digest.slice(7, 17)}`,
      namespace: NS,
      uid: `apv-${task.metadata.name}`,
      resourceVersion: '1',
      creationTimestamp: created,
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: 'AgentTask',
          name: task.metadata.name!,
          uid: task.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      ...extra.metadata,
    },
    spec: {
      taskRef: { name: task.metadata.name!, uid: task.metadata.uid! },
      taskDigest: digest,
      risk: { level: 'critical', reasons: ['tool shell requested: the agent can run arbitrary commands'] },
      expiresAt: new Date(created.getTime() + 30 * 60_000).toISOString(),
      ...extra.spec,
    },
    status: extra.status ?? { state: 'Pending' },
  };
}

/** An AccessReview that allows exactly the given namespaces, and records what it was asked. */
export function fakeAccess(readable: Iterable<string> = [NS]) {
  const allowed = new Set(readable);
  const asked: string[] = [];
  return {
    asked,
    allowed,
    async canRead(namespace: string) {
      asked.push(namespace);
      return allowed.has(namespace);
    },
  };
}

/** A pino logger whose output is kept, to check what was (not) logged. */
export function capturedLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), text: () => lines.join('') };
}

/** A tiny stand-in for ui/dist. */
export async function fakeStaticDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-ui-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>ClosedPaw approvals</title>');
  await writeFile(join(dir, 'assets', 'app.js'), 'console.log("ui");');
  await writeFile(join(dir, '.secret'), 'do not serve dotfiles');
  return dir;
}
