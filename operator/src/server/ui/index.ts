/**
 * The local approval UI's HTTP server: a small JSON API over the operator's
 * informers, a server-sent event stream of changes, and the built UI (ui/dist).
 *
 * Security model (docs: shared security checklist, "Local web UI"):
 * - loopback only; `Host` must be 127.0.0.1 / localhost / [::1] with an explicit port, any port (the UI's own
 *   or a local port forwarded to it, e.g. by `closedpaw ui`): the name stops DNS rebinding;
 * - every non-GET request must carry an allowed `Origin` (cross-site writes), and JSON only;
 * - /api/* needs `Authorization: Bearer <token>`; the token reaches the browser only in the URL
 *   fragment; a credential-looking query parameter is a 400 and never authenticates;
 * - timing-safe comparison over sha256 digests; the right token always authenticates; failed attempts are
 *   throttled per client, per connection and globally; the token can come from a file that is re-read
 *   when it changes (rotation without restart: the old token stops working, open streams are ended);
 * - reads are scoped to the namespaces the approver may read (a SubjectAccessReview, `access`);
 * - a decision is accepted only for an approval bound to the current spec of its own task, and only
 *   when the page posts the digest of the task it displayed (`taskDigest`), equal to the current one;
 * - strict CSP, nosniff, no-referrer, no-store; no CORS headers; no state change via GET;
 * - fastify's own request logging is off: our log lines carry the path without query, never headers.
 */

import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AgentTask, Approval } from '../../api/types.ts';
import { isCodeShaped } from '../../channels/pairing.ts';
import type { PairingVerdict } from '../../channels/pairing-request.ts';
import type { CloudSettings } from '../../gateway/providers/catalog.ts';
import { errorMessage, statusCode, statusReason } from '../../k8s/errors.ts';
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import type { AccessReview } from './access.ts';
import { assessApproval } from './assess.ts';
import type { AuditTrailSource } from './audit-trail.ts';
import { HttpError } from './http-error.ts';
import { objectParams, validationMessage } from './params.ts';
import type { ReadPodLog } from './pod-log.ts';
import {
  type AuthLimits,
  AuthThrottle,
  bearerToken,
  clientKey,
  hostAllowed,
  originAllowed,
  pathOnly,
  queryCarriesCredential,
  SECURITY_HEADERS,
  tokenMatches,
} from './security.ts';
import { createStaticResolver } from './static.ts';
import { type ApprovalSource, ApprovalStream, approvalView, approvalViews, viewOf } from './stream.ts';
import { registerTaskRoutes } from './task-routes.ts';
import { type TaskStreamOptions, TaskStreams } from './task-stream.ts';
import { fixedToken, type TokenSource } from './token.ts';
import type { ApprovalsResponse, PairingResponse, WhoamiResponse } from './view.ts';

export { type AccessReview, createAccessReview, NO_ACCESS, type PostJson } from './access.ts';
export { AuditTrailIndex, type AuditTrailSource, type AuditTrailView } from './audit-trail.ts';
export { type OpenApiPath, podLogReader, type ReadPodLog } from './pod-log.ts';
export type { TaskDetailView, TaskStreamEvent, TaskSummaryView, TasksResponse } from './task-view.ts';
export { createTaskSources, type TaskSources } from './task-wiring.ts';
export { generateUiToken, resolveTokenSource, rotateTokenFile, type TokenSource } from './token.ts';
export type {
  ApprovalsResponse,
  ApprovalView,
  PairingResponse,
  StreamEvent,
  TaskView,
  WhoamiResponse,
} from './view.ts';

/**
 * Absolute path of the built UI: ui/dist of the first directory above this module that has the UI's
 * sources or build (whether it runs from source, the dist/ tree, or the operator bundle), else of the
 * working directory (the image's /app).
 */
export const UI_DIST_DIR: string = resolve(projectRoot(import.meta.dirname), 'ui/dist');

function projectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'ui/index.html')) || existsSync(join(dir, 'ui/dist/index.html'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

export interface UiDeps {
  approvals: Pick<Informer<Approval & KubeObject>, 'get' | 'list' | 'on'>;
  tasks: Pick<Informer<AgentTask & KubeObject>, 'get' | 'list' | 'on'>;
  /**
   * Writes spec.decision as the configured human (impersonating `approver` with `approverGroups`);
   * rejects with the API server's message on failure.
   */
  decide(
    namespace: string,
    name: string,
    decision: { verdict: 'Approved' | 'Denied'; reason?: string },
  ): Promise<Approval>;
  /** The identity decisions are made as (shown in the UI); undefined → read-only UI. */
  approver?: string;
  /** The groups impersonated with the approver (shown in the UI; `decide` and `access` use them). */
  approverGroups?: readonly string[];
  /** Which namespaces the approver may read: nothing else is listed, streamed or shown. */
  access: AccessReview;
  /** The operator's approval TTL: an approval is decidable until min(spec.expiresAt, creation + TTL). */
  ttlSeconds: number;
  /** The operator's cloud models, for the risk shown and checked (a task on one is critical). */
  cloud?: CloudSettings;
  /** The session secret (at least 32 characters), fixed or from a file that may be rotated. */
  token: string | TokenSource;
  /** '127.0.0.1' or '::1'. */
  host: string;
  /** The port the server listens on (0: any free port, startUiServer only). */
  port: number;
  /** The built UI (ui/dist). */
  staticDir: string;
  logger: Logger;
  /** Audit hook: a failed authentication, or the first authenticated request of a connection. */
  onLogin?(ok: boolean, remoteAddress: string): void;
  /** Failed-auth throttling (defaults: 10 per client, 5 per connection, 30 overall, slowly refilled). */
  authLimits?: AuthLimits;
  /** How often a rotated token is looked for, to end the event streams opened with the old one (2000 ms). */
  tokenCheckMs?: number;
  /** Clock for expiry decisions (tests). */
  now?: () => Date;
  /**
   * Reads a task's pod log (through the API server, as the operator) for its runner steps; without it the
   * task view shows no steps. Only lines that validate as runner steps ever reach the page.
   */
  readPodLog?: ReadPodLog;
  /** A task's events from the sealed audit log with the log's verification status; without it, none. */
  auditTrail?: AuditTrailSource;
  /** Limits of the per-task event streams (tests). */
  taskStreams?: TaskStreamOptions;
  /**
   * Confirms a chat pairing code as the approver (channels/pairing-request.ts); without it (approval
   * channels off, or a read-only UI) the UI offers no pairing.
   */
  pair?(code: string): Promise<PairingVerdict>;
}

export const READ_ONLY_HINT =
  'This UI is read-only and lists nothing: no approver identity is configured, so there is nobody whose ' +
  'access could scope what it shows. Set CLOSEDPAW_UI_APPROVER to your ' +
  'Kubernetes user name (the operator impersonates exactly that user, and RBAC must allow it), or ' +
  'decide from the terminal with `closedpaw approve NAME` / `closedpaw deny NAME`.';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1']);
const paramsSchema = objectParams('approval');

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export const decisionBodySchema = z
  .object({
    verdict: z.enum(['Approved', 'Denied'], { error: 'verdict must be "Approved" or "Denied"' }),
    reason: z
      .string({ error: 'reason must be a string' })
      .max(1024, 'reason must be at most 1024 characters')
      .refine((s) => !CONTROL_CHARS.test(s), 'reason must not contain control characters')
      .default(''),
    /** The digest of the task the page displayed: refused unless it is the task's current digest. */
    taskDigest: z
      .string({ error: 'taskDigest is required: the digest of the task you reviewed (sha256:<64 hex>)' })
      .regex(/^sha256:[a-f0-9]{64}$/, 'taskDigest must be sha256:<64 hex>'),
  })
  .strict();

export const pairingBodySchema = z
  .object({
    code: z
      .string({ error: 'code is required: the pairing code the bot showed you (ABCD-EFGH)' })
      .refine(isCodeShaped, 'code must be a pairing code like ABCD-EFGH (the bot shows it after /pair)'),
  })
  .strict();

export const PAIRING_OFF_HINT =
  'pairing is off here: the operator runs without approval channels (CLOSEDPAW_CHANNELS), or the UI is read-only';

/** Per-route settings: `public` routes (static files only) need no token. */
interface RouteConfig {
  public?: boolean;
}

function tokenSourceOf(token: UiDeps['token']): TokenSource {
  return typeof token === 'string' ? fixedToken(token) : token;
}

function checkDeps(deps: UiDeps): void {
  if (!LOOPBACK_HOSTS.has(deps.host)) {
    throw new Error(`the approval UI binds to loopback only (127.0.0.1 or ::1), not ${deps.host}`);
  }
  if (typeof deps.access?.canRead !== 'function') {
    throw new Error('the approval UI needs `access` (which namespaces the approver may read)');
  }
  if (!Number.isInteger(deps.ttlSeconds) || deps.ttlSeconds < 1) {
    throw new Error(
      'the approval UI needs `ttlSeconds` (CLOSEDPAW_APPROVAL_TTL_SECONDS), a positive integer',
    );
  }
}

function createApp(deps: UiDeps): FastifyInstance {
  checkDeps(deps);
  const tokens = tokenSourceOf(deps.token);
  const log = deps.logger.child({ component: 'approval-ui' });
  const now = deps.now ?? (() => new Date());
  const groups = [...(deps.approverGroups ?? [])];
  const pairing = deps.approver ? deps.pair : undefined;
  const readable = async (namespace: string): Promise<boolean> => {
    try {
      return (await deps.access.canRead(namespace)) === true;
    } catch (error) {
      log.warn(
        { namespace, err: errorMessage(error) },
        'access review failed: namespace treated as unreadable',
      );
      return false;
    }
  };
  const src: ApprovalSource = {
    approvals: deps.approvals,
    tasks: deps.tasks,
    now,
    ttlSeconds: deps.ttlSeconds,
    ...(deps.cloud ? { cloud: deps.cloud } : {}),
    readable,
  };
  const throttle = new AuthThrottle(deps.authLimits);
  const files = createStaticResolver(deps.staticDir);
  const authenticated = new WeakSet<Socket>();
  const stream = new ApprovalStream(src, {
    onError: (error) => log.error({ err: errorMessage(error) }, 'event stream: an update was not sent'),
  });
  const taskStreams = new TaskStreams(
    {
      tasks: deps.tasks,
      readable,
      now,
      ...(deps.readPodLog ? { readPodLog: deps.readPodLog } : {}),
      ...(deps.auditTrail ? { auditTrail: deps.auditTrail } : {}),
    },
    {
      onError: (error) => log.error({ err: errorMessage(error) }, 'task stream: an update was not sent'),
      ...deps.taskStreams,
    },
  );
  // A rotated token ends the streams opened with the old one (requests are checked one by one anyway).
  let tokenVersion = tokens.version();
  const tokenCheck = setInterval(() => {
    const v = tokens.version();
    if (v === tokenVersion) return;
    tokenVersion = v;
    log.info({ source: tokens.origin }, 'the UI token changed: open event streams ended');
    stream.endAll();
    taskStreams.endAll();
  }, deps.tokenCheckMs ?? 2000);
  tokenCheck.unref();

  const app = fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    routerOptions: { maxParamLength: 300 },
    exposeHeadRoutes: false,
    return503OnClosing: true,
  });

  const fail = (reply: FastifyReply, code: number, error: string, source: 'ui' | 'apiserver' = 'ui') =>
    reply.code(code).type('application/json; charset=utf-8').send({ error, source });

  app.addHook('onRequest', async (req, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (!hostAllowed(req.headers.host)) {
      log.warn({ path: pathOnly(req.url), remote: req.socket.remoteAddress }, 'refused: Host not allowed');
      return fail(reply, 403, 'forbidden: unexpected Host header');
    }
    if (queryCarriesCredential(req.url)) {
      log.warn({ path: pathOnly(req.url), remote: req.socket.remoteAddress }, 'refused: credential in URL');
      return fail(reply, 400, 'credentials are never accepted in the URL; send Authorization: Bearer');
    }
    if (
      req.method !== 'GET' &&
      req.method !== 'HEAD' &&
      !originAllowed(req.headers.origin, req.headers.host)
    ) {
      log.warn({ path: pathOnly(req.url), remote: req.socket.remoteAddress }, 'refused: Origin not allowed');
      return fail(reply, 403, 'forbidden: cross-origin write');
    }
    // Deny by default: only routes marked public (the static UI files) skip authentication. Decided on
    // the route the router matched, never on the raw URL (`/%61pi/approvals` routes to /api/approvals).
    if ((req.routeOptions.config as RouteConfig | undefined)?.public === true) return;
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') {
      return fail(reply, 403, 'forbidden: cross-site request');
    }
    return authenticate(req, reply);
  });

  /** The right token always passes (never throttled); only failures are counted and throttled. */
  function authenticate(req: FastifyRequest, reply: FastifyReply) {
    const remote = req.socket.remoteAddress ?? 'unknown';
    const presented = bearerToken(req.headers.authorization);
    if (presented === null) {
      reply.header('www-authenticate', 'Bearer realm="closedpaw"');
      return fail(reply, 401, 'authentication required: open the URL the operator printed (…/#token=…)');
    }
    const expected = tokens.current();
    if (expected === undefined) {
      log.error({ source: tokens.origin }, 'no usable UI token: every request is refused');
      return fail(reply, 503, tokens.problem() ?? 'no usable UI token');
    }
    if (tokenMatches(presented, expected)) {
      if (!authenticated.has(req.socket)) {
        authenticated.add(req.socket);
        deps.onLogin?.(true, remote);
      }
      return undefined;
    }
    const retryAfter = throttle.failure(clientKey(remote), req.socket);
    if (retryAfter !== undefined) {
      reply.header('retry-after', String(retryAfter));
      return fail(reply, 429, 'too many failed authentication attempts; try again later');
    }
    log.warn({ remote, path: pathOnly(req.url) }, 'authentication failed');
    deps.onLogin?.(false, remote);
    reply.header('www-authenticate', 'Bearer realm="closedpaw", error="invalid_token"');
    return fail(reply, 401, 'invalid token');
  }

  app.addHook('onResponse', async (req, reply) => {
    log.debug(
      { method: req.method, path: pathOnly(req.url), status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  });

  app.addHook('preClose', async () => {
    clearInterval(tokenCheck);
    stream.close();
    taskStreams.close();
  });

  app.setErrorHandler((error, req, reply) => {
    if (error instanceof HttpError) return fail(reply, error.statusCode, error.message, error.source);
    const code = (error as { statusCode?: number }).statusCode;
    const message = error instanceof Error ? error.message : String(error);
    if (code && code >= 400 && code < 500) return fail(reply, code, message);
    log.error({ err: message, path: pathOnly(req.url) }, 'request failed');
    return fail(reply, 500, 'internal error');
  });

  app.setNotFoundHandler((_req, reply) => fail(reply, 404, 'not found'));

  app.get('/api/whoami', async (): Promise<WhoamiResponse> => {
    if (deps.approver)
      return { approver: deps.approver, groups, readOnly: false, pairing: pairing !== undefined };
    return { approver: null, groups: [], readOnly: true, pairing: false, hint: READ_ONLY_HINT };
  });

  app.post('/api/pairings', async (req): Promise<PairingResponse> => {
    const parsed = pairingBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) throw new HttpError(400, validationMessage(parsed.error));
    if (!pairing) throw new HttpError(404, PAIRING_OFF_HINT);
    let verdict: PairingVerdict;
    try {
      verdict = await pairing(parsed.data.code);
    } catch (error) {
      const upstream = statusCode(error);
      log.warn(
        { code: upstream, err: errorMessage(error) },
        'the API server refused the pairing confirmation',
      );
      throw new HttpError(upstream === 403 ? 403 : 502, errorMessage(error), 'apiserver');
    }
    log.info(
      { phase: verdict.phase, approver: deps.approver },
      'pairing code confirmation from the UI answered',
    );
    if (verdict.phase === 'Paired') return { account: verdict.account, user: deps.approver! };
    throw new HttpError(verdict.phase === 'Rejected' ? 422 : 504, verdict.message);
  });

  app.get(
    '/api/approvals',
    async (): Promise<ApprovalsResponse> => ({
      serverTime: now().toISOString(),
      approvals: await approvalViews(src),
    }),
  );

  const parseParams = (params: unknown) => {
    const parsed = paramsSchema.safeParse(params);
    if (!parsed.success) throw new HttpError(400, validationMessage(parsed.error));
    return parsed.data;
  };

  /** Checked before any lookup, so the answer says nothing about what exists there. */
  const requireReadable = async (namespace: string) => {
    if (await readable(namespace)) return;
    throw new HttpError(
      403,
      `${deps.approver ?? 'this read-only UI'} may not read approvals and tasks in namespace ${namespace} ` +
        '(RBAC: list approvals, get agenttasks)',
    );
  };

  app.get('/api/approvals/:namespace/:name', async (req) => {
    const { namespace, name } = parseParams(req.params);
    await requireReadable(namespace);
    const view = approvalView(src, namespace, name);
    if (!view) throw new HttpError(404, `approval ${namespace}/${name} not found`);
    return view;
  });

  app.post('/api/approvals/:namespace/:name/decision', async (req) => {
    const { namespace, name } = parseParams(req.params);
    const parsed = decisionBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) throw new HttpError(400, validationMessage(parsed.error));
    const body = parsed.data;
    if (!deps.approver) throw new HttpError(403, READ_ONLY_HINT);
    await requireReadable(namespace);
    const approval = deps.approvals.get(`${namespace}/${name}`);
    if (!approval) throw new HttpError(404, `approval ${namespace}/${name} not found`);
    const task = deps.tasks.get(`${namespace}/${approval.spec.taskRef.name}`);
    const assessed = assessApproval(approval, task, {
      now: now(),
      ttlSeconds: deps.ttlSeconds,
      ...(deps.cloud ? { cloud: deps.cloud } : {}),
    });
    if (!assessed.decidable) throw new HttpError(409, assessed.blocker!.message);
    if (body.taskDigest !== assessed.task!.digest) {
      throw new HttpError(
        409,
        `the page showed task ${approval.spec.taskRef.name} with digest ${body.taskDigest}, but it is now ` +
          `${assessed.task!.digest}: reload the approval, review it again, then decide`,
      );
    }
    const decision = { verdict: body.verdict, ...(body.reason ? { reason: body.reason } : {}) };
    let decided: Approval;
    try {
      decided = await deps.decide(namespace, name, decision);
    } catch (error) {
      const upstream = statusCode(error);
      const message = errorMessage(error);
      log.warn(
        { namespace, name, verdict: body.verdict, code: upstream, reason: statusReason(error), err: message },
        'the API server refused the decision',
      );
      const code =
        upstream === 403 ? 403 : upstream === 404 ? 404 : upstream === 409 || upstream === 422 ? 409 : 502;
      throw new HttpError(code, message, 'apiserver');
    }
    log.info(
      { namespace, name, verdict: body.verdict, approver: deps.approver },
      'decision written from the UI',
    );
    return viewOf(src, decided);
  });

  app.get('/api/events', async (_req, reply) => {
    reply.hijack();
    const headers: Record<string, string> = { ...SECURITY_HEADERS };
    if (!stream.attach(reply.raw, headers)) {
      reply.raw.writeHead(503, { ...headers, 'content-type': 'application/json; charset=utf-8' });
      reply.raw.end(JSON.stringify({ error: 'too many open event streams', source: 'ui' }));
    }
  });

  registerTaskRoutes(app, {
    tasks: deps.tasks,
    readable,
    requireReadable,
    streams: taskStreams,
    securityHeaders: SECURITY_HEADERS,
    now,
    ...(deps.readPodLog ? { readPodLog: deps.readPodLog } : {}),
    ...(deps.auditTrail ? { auditTrail: deps.auditTrail } : {}),
    ...(deps.taskStreams?.stepLogLimitBytes ? { stepLogLimitBytes: deps.taskStreams.stepLogLimitBytes } : {}),
  });

  app.get('/*', { config: { public: true } satisfies RouteConfig }, async (req, reply) => {
    const path = pathOnly(req.url);
    if (/^\/api(\/|$)/i.test(path)) throw new HttpError(404, 'not found');
    const file = await files.resolve(path);
    if (!file) {
      if (!(await files.index())) {
        throw new HttpError(
          503,
          'the UI is not built: run `npm run ui:build` (vite build --config ui/vite.config.ts)',
        );
      }
      throw new HttpError(404, 'not found');
    }
    return reply.type(file.type).send(file.body);
  });

  return app;
}

/** The Fastify app (not listening): use `inject()` in tests. */
export function createUiApp(deps: UiDeps): FastifyInstance {
  return createApp(deps);
}

/** The URL to open: the token travels in the fragment, which browsers never send to a server. */
export function uiUrl(host: string, port: number, token: string): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}/#token=${encodeURIComponent(token)}`;
}

export async function startUiServer(
  deps: UiDeps,
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const app = createApp(deps);
  await app.listen({ host: deps.host, port: deps.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : deps.port;
  const h = deps.host.includes(':') ? `[${deps.host}]` : deps.host;
  deps.logger
    .child({ component: 'approval-ui' })
    .info(
      { address: `http://${h}:${port}/`, approver: deps.approver ?? null },
      'approval UI listening (the URL with its #token= fragment is printed once, not logged)',
    );
  const token = tokenSourceOf(deps.token).current();
  if (token === undefined) throw new Error('no usable UI token');
  return {
    url: uiUrl(deps.host, port, token),
    port,
    close: async () => {
      await app.close();
    },
  };
}
