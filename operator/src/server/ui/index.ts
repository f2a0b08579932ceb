/**
 * The local approval UI's HTTP server: a small JSON API over the operator's
 * informers, a server-sent event stream of changes, and the built UI (ui/dist).
 *
 * Security model (docs: shared security checklist, "Local web UI"):
 * - loopback only; `Host` must be one of 127.0.0.1 / localhost / [::1] with our port (DNS rebinding);
 * - every non-GET request must carry an allowed `Origin` (cross-site writes), and JSON only;
 * - /api/* needs `Authorization: Bearer <token>`; the token reaches the browser only in the URL
 *   fragment; a credential-looking query parameter is a 400 and never authenticates;
 * - timing-safe comparison over sha256 digests; failed attempts throttled per address and globally;
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
import { errorMessage, statusCode, statusReason } from '../../k8s/errors.ts';
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import {
  type AuthLimits,
  AuthThrottle,
  bearerToken,
  hostAllowed,
  MIN_TOKEN_CHARS,
  originAllowed,
  pathOnly,
  queryCarriesCredential,
  SECURITY_HEADERS,
  tokenMatches,
} from './security.ts';
import { createStaticResolver } from './static.ts';
import { type ApprovalSource, ApprovalStream, approvalView, approvalViews } from './stream.ts';
import { type ApprovalsResponse, toApprovalView, type WhoamiResponse } from './view.ts';

export { generateUiToken } from './security.ts';
export type { ApprovalsResponse, ApprovalView, StreamEvent, TaskView, WhoamiResponse } from './view.ts';

/** Absolute path of the built UI. */
/** ui/dist of this checkout, whether this file runs from source or from the built dist/ tree. */
export const UI_DIST_DIR: string = resolve(projectRoot(import.meta.dirname), 'ui/dist');

function projectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'ui/index.html'))) return dir;
    if (dirname(dir) === dir) return resolve(from, '../../../..');
  }
}

export interface UiDeps {
  approvals: Pick<Informer<Approval & KubeObject>, 'get' | 'list' | 'on'>;
  tasks: Pick<Informer<AgentTask & KubeObject>, 'get' | 'list' | 'on'>;
  /** Writes spec.decision as the configured human; rejects with the API server's message on failure. */
  decide(
    namespace: string,
    name: string,
    decision: { verdict: 'Approved' | 'Denied'; reason?: string },
  ): Promise<Approval>;
  /** The identity decisions are made as (shown in the UI); undefined → read-only UI. */
  approver?: string;
  /** The session secret (at least 32 characters). */
  token: string;
  /** '127.0.0.1' or '::1'. */
  host: string;
  /** The port the server listens on (0: any free port, startUiServer only). */
  port: number;
  /** The built UI (ui/dist). */
  staticDir: string;
  logger: Logger;
  /** Audit hook: a failed authentication, or the first authenticated request of a connection. */
  onLogin?(ok: boolean, remoteAddress: string): void;
  /** Failed-auth throttling (defaults: 10 per address, 30 overall, slowly refilled). */
  authLimits?: AuthLimits;
  /** Clock for expiry decisions (tests). */
  now?: () => Date;
}

export const READ_ONLY_HINT =
  'This UI is read-only: no approver identity is configured. Set CLOSEDPAW_UI_APPROVER to your ' +
  'Kubernetes user name (the operator impersonates exactly that user, and RBAC must allow it), or ' +
  'decide from the terminal with `closedpaw approve NAME` / `closedpaw deny NAME`.';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1']);
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const paramsSchema = z.object({
  namespace: z.string().regex(DNS_NAME, 'invalid namespace'),
  name: z.string().regex(DNS_NAME, 'invalid approval name'),
});

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
    /** The digest the human reviewed: the decision is refused if the approval is for another one. */
    taskDigest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, 'taskDigest must be sha256:<64 hex>')
      .optional(),
  })
  .strict();

class HttpError extends Error {
  readonly statusCode: number;
  readonly source: 'ui' | 'apiserver';
  constructor(statusCode: number, message: string, source: 'ui' | 'apiserver' = 'ui') {
    super(message);
    this.statusCode = statusCode;
    this.source = source;
  }
}

/** Per-route settings: `public` routes (static files only) need no token. */
interface RouteConfig {
  public?: boolean;
}

interface ServerState {
  port: number;
}

function validationMessage(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

function createApp(deps: UiDeps, state: ServerState): FastifyInstance {
  if (typeof deps.token !== 'string' || deps.token.length < MIN_TOKEN_CHARS) {
    throw new Error(`the UI token must be at least ${MIN_TOKEN_CHARS} characters`);
  }
  if (!LOOPBACK_HOSTS.has(deps.host)) {
    throw new Error(`the approval UI binds to loopback only (127.0.0.1 or ::1), not ${deps.host}`);
  }
  const log = deps.logger.child({ component: 'approval-ui' });
  const now = deps.now ?? (() => new Date());
  const src: ApprovalSource = { approvals: deps.approvals, tasks: deps.tasks, now };
  const throttle = new AuthThrottle(deps.authLimits);
  const files = createStaticResolver(deps.staticDir);
  const authenticated = new WeakSet<Socket>();
  const stream = new ApprovalStream(src);

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
    if (!hostAllowed(req.headers.host, state.port)) {
      log.warn({ path: pathOnly(req.url), remote: req.socket.remoteAddress }, 'refused: Host not allowed');
      return fail(reply, 403, 'forbidden: unexpected Host header');
    }
    if (queryCarriesCredential(req.url)) {
      log.warn({ path: pathOnly(req.url), remote: req.socket.remoteAddress }, 'refused: credential in URL');
      return fail(reply, 400, 'credentials are never accepted in the URL; send Authorization: Bearer');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && !originAllowed(req.headers.origin, state.port)) {
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

  function authenticate(req: FastifyRequest, reply: FastifyReply) {
    const remote = req.socket.remoteAddress ?? 'unknown';
    const presented = bearerToken(req.headers.authorization);
    if (presented === null) {
      reply.header('www-authenticate', 'Bearer realm="closedpaw"');
      return fail(reply, 401, 'authentication required: open the URL the operator printed (…/#token=…)');
    }
    if (throttle.blocked(remote)) {
      reply.header('retry-after', String(throttle.retryAfterSeconds(remote)));
      return fail(reply, 429, 'too many failed authentication attempts; try again later');
    }
    if (!tokenMatches(presented, deps.token)) {
      throttle.fail(remote);
      log.warn({ remote, path: pathOnly(req.url) }, 'authentication failed');
      deps.onLogin?.(false, remote);
      reply.header('www-authenticate', 'Bearer realm="closedpaw", error="invalid_token"');
      return fail(reply, 401, 'invalid token');
    }
    if (!authenticated.has(req.socket)) {
      authenticated.add(req.socket);
      deps.onLogin?.(true, remote);
    }
    return undefined;
  }

  app.addHook('onResponse', async (req, reply) => {
    log.debug(
      { method: req.method, path: pathOnly(req.url), status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  });

  app.addHook('preClose', async () => stream.close());

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
    if (deps.approver) return { approver: deps.approver, readOnly: false };
    return { approver: null, readOnly: true, hint: READ_ONLY_HINT };
  });

  app.get(
    '/api/approvals',
    async (): Promise<ApprovalsResponse> => ({
      serverTime: now().toISOString(),
      approvals: approvalViews(src),
    }),
  );

  const parseParams = (params: unknown) => {
    const parsed = paramsSchema.safeParse(params);
    if (!parsed.success) throw new HttpError(400, validationMessage(parsed.error));
    return parsed.data;
  };

  app.get('/api/approvals/:namespace/:name', async (req) => {
    const { namespace, name } = parseParams(req.params);
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
    const approval = deps.approvals.get(`${namespace}/${name}`);
    if (!approval) throw new HttpError(404, `approval ${namespace}/${name} not found`);
    const { spec, status } = approval;
    const state = status?.state ?? 'Pending';
    if (spec.decision) {
      throw new HttpError(
        409,
        `approval ${name} was already decided: ${spec.decision.verdict} by ${spec.decision.decidedBy}`,
      );
    }
    if (state !== 'Pending')
      throw new HttpError(409, `approval ${name} is ${state}: a decision no longer counts`);
    if (now().getTime() >= Date.parse(spec.expiresAt)) {
      throw new HttpError(409, `approval ${name} expired at ${spec.expiresAt}: it counts as denied`);
    }
    if (body.taskDigest && body.taskDigest !== spec.taskDigest) {
      throw new HttpError(
        409,
        `approval ${name} is bound to ${spec.taskDigest}, not the ${body.taskDigest} you reviewed`,
      );
    }
    const task = deps.tasks.get(`${namespace}/${spec.taskRef.name}`);
    const current =
      task && task.metadata.uid === spec.taskRef.uid ? toApprovalView(approval, task, now()).task : undefined;
    if (body.verdict === 'Approved' && current && !current.digestMatches) {
      throw new HttpError(
        409,
        `task ${spec.taskRef.name} changed after approval ${name} was requested; a new approval will be requested`,
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
    return toApprovalView(decided, task, now());
  });

  app.get('/api/events', async (_req, reply) => {
    reply.hijack();
    const headers: Record<string, string> = { ...SECURITY_HEADERS };
    if (!stream.attach(reply.raw, headers)) {
      reply.raw.writeHead(503, { ...headers, 'content-type': 'application/json; charset=utf-8' });
      reply.raw.end(JSON.stringify({ error: 'too many open event streams', source: 'ui' }));
    }
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

/** The Fastify app (not listening): use `inject()` in tests. The Host allowlist uses `deps.port`. */
export function createUiApp(deps: UiDeps): FastifyInstance {
  return createApp(deps, { port: deps.port });
}

/** The URL to open: the token travels in the fragment, which browsers never send to a server. */
export function uiUrl(host: string, port: number, token: string): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}/#token=${encodeURIComponent(token)}`;
}

export async function startUiServer(
  deps: UiDeps,
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const state: ServerState = { port: deps.port };
  const app = createApp(deps, state);
  await app.listen({ host: deps.host, port: deps.port });
  const address = app.server.address();
  state.port = typeof address === 'object' && address ? address.port : deps.port;
  const h = deps.host.includes(':') ? `[${deps.host}]` : deps.host;
  deps.logger
    .child({ component: 'approval-ui' })
    .info(
      { address: `http://${h}:${state.port}/`, approver: deps.approver ?? null },
      'approval UI listening (the URL with its #token= fragment is printed once, not logged)',
    );
  return {
    url: uiUrl(deps.host, state.port, deps.token),
    port: state.port,
    close: async () => {
      await app.close();
    },
  };
}
