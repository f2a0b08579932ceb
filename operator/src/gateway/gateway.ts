/**
 * The model gateway: the task pod's only network destination. Speaks Ollama's API to the runner and
 * forwards the model calls a task's token allows to Ollama, streaming both ways; refuses the rest
 * with `{"error","code"}`. Every call, allowed or refused, is audited as `model.call`.
 *
 * Order of checks: endpoint → token → task still active → body (size, JSON, keys) → model → run not
 * stopped → budget and calls in flight → tool-output screening → audit store healthy → forward.
 * GET /api/version is answered by the gateway itself, without a token and unaudited (it reveals nothing).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TaskTokenClaims } from '../api/agent-protocol.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AuditSink } from '../audit/sink.ts';
import { http } from '../node-http.ts';
import {
  authorizeCall,
  authorizeCaller,
  bearerToken,
  type CallerAuth,
  isRefusal,
  type ModelEndpoint,
  routeRequest,
  type TaskState,
} from './authorize.ts';
import { type TaskEntry, type Usage, UsageLedger } from './budgets.ts';
import { type Refusal, refusal, sendRefusal, statusOf } from './errors.ts';
import { forward } from './forward.ts';
import { tokensSpent } from './meter.ts';
import {
  type CloudModel,
  type CloudSettings,
  findCloudModel,
  namesCloudProvider,
} from './providers/catalog.ts';
import { cloudForward } from './providers/cloud-forward.ts';
import { costMicroUsd, planCloudCall } from './providers/cost.ts';
import type { KeySource } from './providers/keys.ts';
import { translatorFor } from './providers/translate.ts';
import { TranslationError } from './providers/types.ts';
import { parseModelRequest } from './request.ts';
import { type Finding, type ScreenFn, screenToolOutputs, stopMessage } from './screening.ts';
import type { TaskIdentity, TokenVerifier } from './tokens.ts';
import type { RecordedSpending } from './usage-replay.ts';

export interface GatewayLogger {
  debug?(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface GatewayLimits {
  /** Largest request body accepted (default 8 MiB). */
  maxRequestBytes: number;
  /** Largest upstream error body relayed (default 64 KiB). */
  maxUpstreamErrorBytes: number;
  /** Upstream socket idle time before the call is cut (default 5 min: a model may load slowly). */
  upstreamIdleTimeoutMs: number;
  /** How often finished tasks' usage is forgotten, at most (default 30 s). */
  sweepIntervalMs: number;
  /** Screened tool-output digests remembered per task (default 4096). */
  maxScreenedPerTask: number;
  /** Calls of one task in flight at once (default 4). */
  maxInFlightPerTask: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  maxRequestBytes: 8 * 1024 * 1024,
  maxUpstreamErrorBytes: 64 * 1024,
  upstreamIdleTimeoutMs: 5 * 60_000,
  sweepIntervalMs: 30_000,
  maxScreenedPerTask: 4096,
  maxInFlightPerTask: 4,
};

export interface GatewayDeps {
  /** Ollama's base URL (http), e.g. http://ollama.closedpaw-system.svc:11434 */
  upstream: string;
  verifier: TokenVerifier;
  /** The operator's view of the task (from its informer cache, matching the uid). Throwing counts as 'unknown'. */
  taskState(task: TaskIdentity): TaskState;
  audit: AuditSink;
  logger: GatewayLogger;
  /** Screens one tool output (operator/src/screening). Without it, tool outputs are not screened. */
  screen?: ScreenFn;
  /** Whether the approver allowed flagged tool output for this task (default: no). */
  allowFlaggedToolOutput?(task: TaskIdentity): boolean;
  /** A flagged tool output stopped the run: the operator records it as a task condition. */
  onToolOutputFlagged?(task: TaskIdentity, finding: Finding): void;
  /** Whether the audit store still accepts events; checked before forwarding (default: the gateway's own latch). */
  auditHealthy?(): boolean;
  /** Milliseconds clock (default Date.now). */
  now?(): number;
  limits?: Partial<GatewayLimits>;
  /** What GET /api/version answers (default '0.0.0', as an Ollama built without a version). */
  version?: string;
  /** Cloud models (opt-in): the allowlist and prices, and where the provider keys come from. */
  cloud?: { settings: CloudSettings; keys: KeySource };
}

export interface Gateway {
  /** Serves one request (for mounting on an existing node:http server). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  listen(host: string, port: number): Promise<{ port: number }>;
  /** Stops listening, cuts open calls (each is still audited) and closes upstream connections. */
  close(): Promise<void>;
  /** What a task has spent so far, or undefined if the gateway holds nothing for it. */
  usage(taskUid: string): Usage | undefined;
  /** How many tasks' usage the gateway holds (bounded by the active tasks). */
  trackedTasks(): number;
  /** Drops a task's usage now (the operator may call it when a task finishes). */
  forget(taskUid: string): void;
  /** Takes in what the audit log records the tasks have spent, and which runs screening stopped. */
  restoreUsage(spending: Iterable<RecordedSpending>): void;
}

export function createGateway(deps: GatewayDeps): Gateway {
  return new ModelGateway(deps);
}

/** What is known about a call so far, for its audit record. */
interface CallRecord {
  started: number;
  endpoint: string;
  task?: TaskIdentity;
  model?: string;
  /** The cloud provider the call went to (absent: the local Ollama). */
  provider?: string;
  requestBytes?: number;
  requestDigest?: string;
}

interface CallOutcome {
  verdict: 'allowed' | 'refused';
  code?: string;
  status?: number;
  promptTokens?: number;
  completionTokens?: number;
  responseBytes?: number;
  responseDigest?: string;
  costMicroUsd?: number;
}

const UNATTRIBUTED: TaskIdentity = { namespace: '-', name: '-', uid: '' };
const PERMANENT_AUDIT_FAILURES = new Set(['failed', 'closed']);

class ModelGateway implements Gateway {
  readonly #deps: GatewayDeps;
  readonly #limits: GatewayLimits;
  readonly #upstream: URL;
  readonly #agent = new http.Agent({ keepAlive: true });
  readonly #httpsAgent = new HttpsAgent({ keepAlive: true });
  readonly #ledger: UsageLedger;
  readonly #now: () => number;
  readonly #log: GatewayLogger;
  #server?: Server;
  #lastSweep: number;
  #auditFailure?: string;
  #flushing = false;
  #flushAgain = false;

  constructor(deps: GatewayDeps) {
    this.#deps = deps;
    this.#limits = { ...DEFAULT_LIMITS, ...deps.limits };
    this.#upstream = parseUpstream(deps.upstream);
    this.#ledger = new UsageLedger({ maxScreenedPerTask: this.#limits.maxScreenedPerTask });
    this.#now = deps.now ?? Date.now;
    this.#log = deps.logger;
    this.#lastSweep = this.#now();
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#serve(req, res).catch((err: unknown) => {
      this.#log.error({ err }, 'gateway: request failed');
      if (!res.headersSent) sendRefusal(res, refusal('upstream_unreachable', 'gateway internal error'));
      else res.destroy();
    });
  };

  listen(host: string, port: number): Promise<{ port: number }> {
    if (this.#server) return Promise.reject(new Error('gateway is already listening'));
    const server = http.createServer({ noDelay: true, requestTimeout: 120_000 }, this.handle);
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve({ port: (server.address() as AddressInfo).port });
      });
    });
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    this.#agent.destroy();
    this.#httpsAgent.destroy();
  }

  usage(taskUid: string): Usage | undefined {
    const entry = this.#ledger.get(taskUid);
    return entry ? { ...entry.usage } : undefined;
  }

  trackedTasks(): number {
    return this.#ledger.size;
  }

  forget(taskUid: string): void {
    this.#ledger.forget(taskUid);
  }

  restoreUsage(spending: Iterable<RecordedSpending>): void {
    this.#ledger.restore(spending);
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const call: CallRecord = { started: this.#now(), endpoint: pathOf(req.url) };
    const route = routeRequest(req.method, req.url);
    if (!isRefusal(route) && route.kind === 'info') return this.#answerVersion(req, res);

    const auth = await this.#authenticate(req.headers.authorization);
    if ('claims' in auth) {
      call.task = auth.claims.task;
      call.model = auth.claims.model;
    }
    if (isRefusal(route)) return this.#refuse(res, call, route);
    const state = 'claims' in auth ? this.#taskState(auth.claims.task) : undefined;
    const callerRefused = authorizeCaller(auth, state);
    if (callerRefused || !('claims' in auth)) {
      if ('claims' in auth) this.#ledger.forget(auth.claims.task.uid);
      return this.#refuse(res, call, callerRefused ?? refusal('unauthenticated', 'no token'));
    }
    this.#maybeSweep();

    const body = await readBody(req, this.#limits.maxRequestBytes);
    if (body === undefined) {
      this.#record(call, { verdict: 'refused', code: 'client_aborted' });
      return;
    }
    if (isRefusal(body)) return this.#refuse(res, call, body);
    call.requestBytes = body.length;
    call.requestDigest = sha256(body);
    const request = parseModelRequest(route.endpoint, body);
    if (isRefusal(request)) return this.#refuse(res, call, request);
    call.model = request.model;

    const entry = this.#ledger.open(auth.claims.task, auth.claims.budget);
    const refused =
      authorizeCall({
        claims: auth.claims,
        model: request.model,
        requestBytes: body.length,
        usage: entry.usage,
        budget: entry.budget,
        maxInFlight: this.#limits.maxInFlightPerTask,
        ...(entry.stopped !== undefined ? { stopped: entry.stopped } : {}),
      }) ??
      this.#cloudRefusal(route.endpoint, request.model) ??
      this.#screen(entry, request.toolOutputs);
    if (refused) return this.#refuse(res, call, refused);
    if (!this.#auditReady()) return this.#refuse(res, call, auditUnavailable(this.#auditFailure));
    const cloud = findCloudModel(this.#deps.cloud?.settings, request.model);
    if (cloud) return await this.#forwardCloud(res, call, entry, cloud, body, request.body);
    this.#forward(res, call, entry, route.endpoint, body);
  }

  /** A model named `<cloud provider>/…` goes to that provider only if allowlisted, and only for chat. */
  #cloudRefusal(endpoint: ModelEndpoint, model: string): Refusal | undefined {
    const settings = this.#deps.cloud?.settings;
    const cloud = findCloudModel(settings, model);
    if (cloud) {
      return endpoint === '/api/chat'
        ? undefined
        : refusal('bad_request', `cloud model ${cloud.name} serves only /api/chat, not ${endpoint}`);
    }
    const provider = namesCloudProvider(settings, model);
    if (provider === undefined) return undefined;
    return refusal(
      'model_not_allowed',
      settings
        ? `model ${JSON.stringify(model.slice(0, 256))} names cloud provider ${provider} but is not in the operator's cloud allowlist (CLOSEDPAW_CLOUD_MODELS)`
        : `model ${JSON.stringify(model.slice(0, 256))} names cloud provider ${provider}, and cloud models are off (set CLOSEDPAW_CLOUD_MODELS)`,
    );
  }

  /** A cloud call: budget plan, translation, the provider key from the vault, then the provider. */
  async #forwardCloud(
    res: ServerResponse,
    call: CallRecord,
    entry: TaskEntry,
    cloud: CloudModel,
    body: Buffer,
    parsed: Record<string, unknown>,
  ) {
    const deps = this.#deps.cloud!;
    call.provider = cloud.provider.name;
    const plan = planCloudCall({
      budget: entry.budget,
      usage: entry.usage,
      spentMicroUsd: entry.usage.costMicroUsd ?? 0,
      maxCostMicroUsd: deps.settings.maxCostMicroUsdPerTask,
      requestBytes: body.length,
      price: cloud.price,
      maxOutputTokens: deps.settings.maxOutputTokens,
    });
    if (isRefusal(plan)) return this.#refuse(res, call, plan);
    // Its shape was checked by parseModelRequest, and translatorFor checks what it translates.
    const request = parsed as unknown as Parameters<typeof translatorFor>[1];
    let translated: ReturnType<typeof translatorFor>;
    try {
      translated = translatorFor(cloud, request, plan.maxTokens);
    } catch (err) {
      if (!(err instanceof TranslationError)) throw err;
      return this.#refuse(res, call, refusal('bad_request', err.message));
    }
    this.#ledger.reserve(entry, body.length);
    let key: Awaited<ReturnType<KeySource['get']>>;
    try {
      key = await deps.keys.get(cloud.provider.keyName);
    } catch (err) {
      this.#ledger.settle(entry, { tokens: 0, responseBytes: 0 });
      this.#log.error(
        { provider: cloud.provider.name, err: (err as Error).message },
        'gateway: no provider key',
      );
      return this.#refuse(res, call, {
        code: 'upstream_error',
        status: 502,
        message: `cloud provider ${cloud.provider.name}: ${(err as Error).message}`,
      });
    }
    const options = {
      provider: cloud.provider,
      key,
      body: translated.body,
      translator: translated.translator,
      stream: request.stream !== false,
      model: request.model,
      res,
      agents: { http: this.#agent, https: this.#httpsAgent },
      idleTimeoutMs: this.#limits.upstreamIdleTimeoutMs,
      maxErrorBytes: this.#limits.maxUpstreamErrorBytes,
    };
    cloudForward(options, ({ status, code, responseBytes, meter, summary }) => {
      const tokens = Math.max(summary.promptTokens + summary.completionTokens, tokensSpent(meter));
      const cost = costMicroUsd(cloud.price, summary.promptTokens, summary.completionTokens);
      this.#ledger.settle(entry, { tokens, responseBytes, costMicroUsd: cost });
      if (code === 'upstream_unreachable') {
        this.#log.warn({ provider: cloud.provider.name }, 'gateway: cloud provider unreachable');
      }
      this.#record(call, {
        verdict: 'allowed',
        ...(code !== undefined ? { code } : {}),
        ...(status !== undefined ? { status } : {}),
        promptTokens: summary.promptTokens,
        completionTokens: summary.completionTokens,
        responseBytes,
        responseDigest: meter.digest,
        costMicroUsd: cost,
      });
    });
  }

  async #authenticate(header: string | undefined): Promise<CallerAuth> {
    const token = bearerToken(header);
    if (token === undefined) return { missing: true };
    try {
      return { claims: await this.#deps.verifier.verify(token) };
    } catch (err) {
      return { error: err instanceof Error ? err.message : 'token could not be verified' };
    }
  }

  #taskState(task: TaskTokenClaims['task']): TaskState {
    try {
      return this.#deps.taskState(task);
    } catch (err) {
      this.#log.warn({ err, task: taskRef(task) }, 'gateway: task state lookup failed; refusing');
      return 'unknown';
    }
  }

  #maybeSweep(): void {
    const now = this.#now();
    if (now - this.#lastSweep < this.#limits.sweepIntervalMs) return;
    this.#lastSweep = now;
    const dropped = this.#ledger.sweep((task) => this.#taskState(task) === 'active');
    if (dropped > 0) this.#log.debug?.({ dropped }, 'gateway: forgot usage of finished tasks');
  }

  /** Screens new tool outputs; a refusal if one stops the run (or its finding cannot be audited). */
  #screen(entry: TaskEntry, outputs: string[]): Refusal | undefined {
    const screen = this.#deps.screen;
    if (!screen || outputs.length === 0) return undefined;
    const outcome = screenToolOutputs(
      outputs,
      (digest) => entry.screened.has(digest),
      screen,
      () => this.#allowFlagged(entry.task),
    );
    for (const digest of outcome.digests) this.#ledger.rememberScreened(entry, digest);
    if (outcome.kind === 'clean') return undefined;
    let audited = true;
    for (const finding of outcome.findings) {
      const stopped = outcome.kind === 'stopped' && finding === outcome.stopping;
      audited = this.#append(flaggedEvent(entry.task, finding, stopped ? 'stopped' : 'allowed')) && audited;
    }
    if (outcome.kind === 'stopped') {
      entry.stopped = stopMessage(outcome.stopping);
      this.#log.warn(
        { task: taskRef(entry.task), reasons: outcome.stopping.reasons, digest: outcome.stopping.digest },
        'gateway: flagged tool output stopped the run',
      );
      try {
        this.#deps.onToolOutputFlagged?.(entry.task, outcome.stopping);
      } catch (err) {
        this.#log.error({ err }, 'gateway: onToolOutputFlagged failed');
      }
      return refusal('tool_output_flagged', entry.stopped);
    }
    return audited ? undefined : auditUnavailable(this.#auditFailure);
  }

  #allowFlagged(task: TaskIdentity): boolean {
    try {
      return this.#deps.allowFlaggedToolOutput?.(task) === true;
    } catch (err) {
      this.#log.error({ err }, 'gateway: allowFlaggedToolOutput failed; treating as not allowed');
      return false;
    }
  }

  #auditReady(): boolean {
    if (this.#auditFailure !== undefined) return false;
    try {
      return this.#deps.auditHealthy?.() ?? true;
    } catch {
      return false;
    }
  }

  #forward(res: ServerResponse, call: CallRecord, entry: TaskEntry, endpoint: ModelEndpoint, body: Buffer) {
    this.#ledger.reserve(entry, body.length);
    const options = {
      url: new URL(endpoint, this.#upstream),
      agent: this.#agent,
      body,
      res,
      idleTimeoutMs: this.#limits.upstreamIdleTimeoutMs,
      maxErrorBytes: this.#limits.maxUpstreamErrorBytes,
    };
    forward(options, ({ status, code, responseBytes, meter }) => {
      this.#ledger.settle(entry, { tokens: tokensSpent(meter), responseBytes });
      if (code === 'upstream_unreachable') {
        this.#log.warn({ upstream: this.#upstream.origin }, 'gateway: upstream unreachable');
      }
      this.#record(call, {
        verdict: 'allowed',
        ...(code !== undefined ? { code } : {}),
        ...(status !== undefined ? { status } : {}),
        ...(meter.promptTokens !== undefined ? { promptTokens: meter.promptTokens } : {}),
        ...(meter.completionTokens !== undefined ? { completionTokens: meter.completionTokens } : {}),
        responseBytes,
        responseDigest: meter.digest,
      });
    });
  }

  #answerVersion(req: IncomingMessage, res: ServerResponse): void {
    const body = Buffer.from(JSON.stringify({ version: this.#deps.version ?? '0.0.0' }));
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Audits a refusal and sends it; if the audit store fails, sends 503 instead (fail closed). */
  #refuse(res: ServerResponse, call: CallRecord, r: Refusal): void {
    // A body still on its way is not read (nor drained): the connection is closed after the answer.
    if (!res.req.complete) res.setHeader('connection', 'close');
    const recorded = this.#record(call, { verdict: 'refused', code: r.code, status: statusOf(r) });
    const sent = recorded ? r : auditUnavailable(this.#auditFailure);
    this.#log.debug?.({ task: call.task && taskRef(call.task), code: sent.code }, 'gateway: refused');
    sendRefusal(res, sent);
  }

  /**
   * Keeps one flush() outstanding while events are unflushed: the sealed store rejects it the moment a
   * write fails, which closes the gateway before the next request is read (append alone would only
   * tell us when the next record is refused, after that call was forwarded).
   */
  #watchDurability(): void {
    if (this.#flushing) {
      this.#flushAgain = true;
      return;
    }
    this.#flushing = true;
    this.#deps.audit.flush().then(
      () => {
        this.#flushing = false;
        if (!this.#flushAgain) return;
        this.#flushAgain = false;
        this.#watchDurability();
      },
      (err: unknown) => {
        this.#auditFailure = err instanceof Error ? err.message : String(err);
        this.#log.error({ err }, 'gateway: audit store failed; refusing all calls');
      },
    );
  }

  #record(call: CallRecord, outcome: CallOutcome): boolean {
    return this.#append(modelCallEvent(call, outcome, this.#now()));
  }

  #append(event: AuditEventInput): boolean {
    try {
      this.#deps.audit.append(event);
      this.#watchDurability();
      return true;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && PERMANENT_AUDIT_FAILURES.has(code)) {
        this.#auditFailure = (err as Error).message;
      }
      this.#log.error({ err, event: event.type }, 'gateway: audit append failed; refusing the call');
      return false;
    }
  }
}

function parseUpstream(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(
      `gateway upstream ${JSON.stringify(url)} is not a URL (expected e.g. http://ollama:11434)`,
    );
  }
  if (parsed.protocol !== 'http:') {
    throw new Error(`gateway upstream must be http:// (Ollama's plain HTTP API), got ${parsed.protocol}`);
  }
  return new URL(`${parsed.origin}/`);
}

function pathOf(url: string | undefined): string {
  const target = url ?? '';
  const q = target.indexOf('?');
  return (q === -1 ? target : target.slice(0, q)).slice(0, 64) || '-';
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function auditUnavailable(why: string | undefined): Refusal {
  return refusal(
    'audit_unavailable',
    `the audit store is not accepting records${why ? ` (${why})` : ''}; no model call passes unaudited`,
  );
}

function taskRef(task: TaskIdentity): { namespace: string; name: string; uid?: string } {
  return {
    namespace: task.namespace.slice(0, 253),
    name: task.name.slice(0, 253),
    ...(task.uid ? { uid: task.uid.slice(0, 64) } : {}),
  };
}

function modelCallEvent(call: CallRecord, o: CallOutcome, now: number): AuditEventInput {
  return {
    type: 'model.call',
    task: taskRef(call.task ?? UNATTRIBUTED),
    model: (call.model || '-').slice(0, 256),
    ...(call.provider !== undefined ? { provider: call.provider } : {}),
    endpoint: call.endpoint,
    verdict: o.verdict,
    ...(o.code !== undefined ? { code: o.code } : {}),
    ...(o.status !== undefined ? { status: o.status } : {}),
    ...(o.promptTokens !== undefined ? { promptTokens: o.promptTokens } : {}),
    ...(o.completionTokens !== undefined ? { completionTokens: o.completionTokens } : {}),
    ...(call.requestBytes !== undefined ? { requestBytes: call.requestBytes } : {}),
    ...(o.responseBytes !== undefined ? { responseBytes: o.responseBytes } : {}),
    ...(call.requestDigest !== undefined ? { requestDigest: call.requestDigest } : {}),
    ...(o.responseDigest !== undefined ? { responseDigest: o.responseDigest } : {}),
    ...(o.costMicroUsd !== undefined ? { costMicroUsd: o.costMicroUsd } : {}),
    ms: Math.max(0, now - call.started),
  };
}

function flaggedEvent(task: TaskIdentity, f: Finding, action: 'stopped' | 'allowed'): AuditEventInput {
  return {
    type: 'screening.flagged',
    task: taskRef(task),
    where: f.where,
    score: f.score,
    reasons: f.reasons.slice(0, 32).map((r) => r.slice(0, 1024)),
    digest: f.digest,
    action,
  };
}

/** The request body, a refusal if it is too large, or undefined if the client went away. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | Refusal | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooLarge = refusal('too_large', `request body exceeds ${max} bytes`);
  if (declared > max) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (v: Buffer | Refusal | undefined) => {
      if (settled) return;
      settled = true;
      resolve(v);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > max) settle(tooLarge);
      else chunks.push(chunk);
    });
    req.on('end', () => settle(Buffer.concat(chunks, size)));
    req.on('error', () => settle(undefined));
    req.on('close', () => settle(undefined));
  });
}
