/**
 * The task view's read-only routes. Each runs behind the server's guards (Host,
 * token, CSP…) and checks the approver may read the namespace before looking
 * anything up, so a 403 says nothing about what exists there:
 *
 *   GET /api/tasks                              tasks in readable namespaces
 *   GET /api/tasks/:namespace/:name             one task: spec summary, status, conditions with meanings
 *   GET /api/tasks/:namespace/:name/steps       runner steps parsed from the pod log (one read)
 *   GET /api/tasks/:namespace/:name/audit       its audit trail with the log's verification status
 *   GET /api/tasks/:namespace/:name/events      server-sent events: all of the above, live
 */
import type { FastifyInstance } from 'fastify';
import type { AgentTask } from '../../api/types.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import type { AuditTrailSource, AuditTrailView } from './audit-trail.ts';
import { HttpError } from './http-error.ts';
import { objectParams, validationMessage } from './params.ts';
import type { ReadPodLog } from './pod-log.ts';
import { DEFAULT_STEP_LOG_LIMIT_BYTES, readStepsOnce } from './step-follower.ts';
import type { StepsResponse } from './steps.ts';
import { type InformerView, readableOnly } from './stream.ts';
import { auditUnavailable, STEPS_NOT_WIRED, type TaskStreams } from './task-stream.ts';
import { type TaskDetailView, type TasksResponse, toTaskDetail, toTaskSummary } from './task-view.ts';

const taskParams = objectParams('task');

export interface TaskRoutesContext {
  tasks: InformerView<AgentTask & KubeObject>;
  readable: (namespace: string) => Promise<boolean>;
  /** Throws a 403 HttpError unless the approver may read the namespace. */
  requireReadable: (namespace: string) => Promise<void>;
  readPodLog?: ReadPodLog;
  auditTrail?: AuditTrailSource;
  streams: TaskStreams;
  securityHeaders: Readonly<Record<string, string>>;
  stepLogLimitBytes?: number;
  now: () => Date;
}

export function registerTaskRoutes(app: FastifyInstance, ctx: TaskRoutesContext): void {
  /** Access first, then the lookup: 403 before 404. */
  const lookup = async (params: unknown) => {
    const parsed = taskParams.safeParse(params);
    if (!parsed.success) throw new HttpError(400, validationMessage(parsed.error));
    const { namespace, name } = parsed.data;
    await ctx.requireReadable(namespace);
    const task = ctx.tasks.get(`${namespace}/${name}`);
    if (!task) throw new HttpError(404, `task ${namespace}/${name} not found`);
    return task;
  };

  app.get(
    '/api/tasks',
    async (): Promise<TasksResponse> => ({
      serverTime: ctx.now().toISOString(),
      tasks: (await readableOnly(ctx.readable, ctx.tasks.list())).map(toTaskSummary),
    }),
  );

  app.get(
    '/api/tasks/:namespace/:name',
    async (req): Promise<TaskDetailView> => toTaskDetail(await lookup(req.params)),
  );

  app.get('/api/tasks/:namespace/:name/steps', async (req): Promise<StepsResponse> => {
    const task = await lookup(req.params);
    if (!ctx.readPodLog) return { steps: [], status: { state: 'unavailable', message: STEPS_NOT_WIRED } };
    return await readStepsOnce(
      ctx.readPodLog,
      task.metadata.namespace ?? '',
      { phase: task.status?.phase, podName: task.status?.podName },
      {
        limitBytes: ctx.stepLogLimitBytes ?? DEFAULT_STEP_LOG_LIMIT_BYTES,
        signal: AbortSignal.timeout(30_000),
      },
    );
  });

  app.get('/api/tasks/:namespace/:name/audit', async (req): Promise<AuditTrailView> => {
    const task = await lookup(req.params);
    if (!ctx.auditTrail)
      return auditUnavailable('this UI server has no audit trail configured (the audit log is off)');
    return await ctx.auditTrail({
      namespace: task.metadata.namespace ?? '',
      name: task.metadata.name ?? '',
      uid: task.metadata.uid ?? '',
    });
  });

  app.get('/api/tasks/:namespace/:name/events', async (req, reply) => {
    const task = await lookup(req.params);
    reply.hijack();
    const headers: Record<string, string> = { ...ctx.securityHeaders };
    if (!ctx.streams.attach(reply.raw, headers, task)) {
      reply.raw.writeHead(503, { ...headers, 'content-type': 'application/json; charset=utf-8' });
      reply.raw.end(JSON.stringify({ error: 'too many open task streams', source: 'ui' }));
    }
  });
}
