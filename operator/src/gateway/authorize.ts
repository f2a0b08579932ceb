/**
 * The gateway's decisions, as pure functions: which endpoint a request names, whether its caller may
 * call at all, and whether this call (model, budget, stopped run) may go upstream.
 *
 * Paths are matched exactly, byte for byte, and the gateway forwards to its own constant path, never
 * the client's. Ollama's router would decode `%63`, redirect `/api/chat/` and so on; refusing every
 * such variant means nothing the client writes can reach another Ollama endpoint.
 */
import {
  GATEWAY_INFO_ENDPOINTS,
  GATEWAY_MODEL_ENDPOINTS,
  type TaskTokenClaims,
} from '../api/agent-protocol.ts';
import { type Budget, checkBudget, type Usage } from './budgets.ts';
import { type Refusal, refusal } from './errors.ts';

export type ModelEndpoint = (typeof GATEWAY_MODEL_ENDPOINTS)[number];
export type InfoEndpoint = (typeof GATEWAY_INFO_ENDPOINTS)[number];
export type Route = { kind: 'model'; endpoint: ModelEndpoint } | { kind: 'info'; endpoint: InfoEndpoint };

export type TaskState = 'active' | 'finished' | 'unknown';

const ALLOWED = 'the gateway serves only POST /api/chat, /api/generate, /api/embed and GET /api/version';

/** Which endpoint `method url` names, or `forbidden_endpoint`. The query string is ignored (and not forwarded). */
export function routeRequest(method: string | undefined, url: string | undefined): Route | Refusal {
  const target = url ?? '';
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  const shown = `${method ?? '?'} ${JSON.stringify(path.slice(0, 80))}`;
  const model = GATEWAY_MODEL_ENDPOINTS.find((e) => e === path);
  if (model) {
    return method === 'POST'
      ? { kind: 'model', endpoint: model }
      : refusal('forbidden_endpoint', `${shown}: ${model} accepts only POST`);
  }
  const info = GATEWAY_INFO_ENDPOINTS.find((e) => e === path);
  if (info) {
    return method === 'GET' || method === 'HEAD'
      ? { kind: 'info', endpoint: info }
      : refusal('forbidden_endpoint', `${shown}: ${info} accepts only GET`);
  }
  return refusal('forbidden_endpoint', `${shown} is not allowed: ${ALLOWED}`);
}

export function isRefusal(x: object): x is Refusal {
  return 'code' in x && 'message' in x;
}

/** `Authorization: Bearer <token>` → the token; undefined if absent or not a bearer token. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9_.~+/=-]+) *$/i.exec(header ?? '');
  return match?.[1];
}

export type CallerAuth = { claims: TaskTokenClaims } | { error: string } | { missing: true };

/** Whether the caller may make model calls at all: a valid token for a task that is still active. */
export function authorizeCaller(auth: CallerAuth, taskState: TaskState | undefined): Refusal | undefined {
  if ('missing' in auth) {
    return refusal(
      'unauthenticated',
      'missing "Authorization: Bearer <task token>" (the token file of the task)',
    );
  }
  if ('error' in auth) return refusal('unauthenticated', `gateway token rejected: ${auth.error}`);
  const { namespace, name, uid } = auth.claims.task;
  const task = `task ${namespace}/${name} (uid ${uid})`;
  if (taskState === 'active') return undefined;
  if (taskState === 'finished') {
    return refusal('task_finished', `${task} has finished; its token no longer grants model calls`);
  }
  return refusal('task_finished', `${task} is not running (deleted, replaced or never admitted)`);
}

/**
 * Whether a requested model is the token's model. Ollama resolves a name without a tag to `:latest`,
 * so `name` and `name:latest` are the same model; everything else must match exactly (case included:
 * refusing a name Ollama would also accept is safe, accepting one it resolves elsewhere is not).
 */
export function sameModel(requested: string, allowed: string): boolean {
  return withTag(requested) === withTag(allowed);
}

function withTag(name: string): string {
  return name.lastIndexOf(':') > name.lastIndexOf('/') ? name : `${name}:latest`;
}

export interface CallFacts {
  claims: TaskTokenClaims;
  model: string;
  requestBytes: number;
  usage: Usage;
  budget: Budget;
  /** Why the run was stopped, if a flagged tool output stopped it. */
  stopped?: string;
  /** Most calls of one task in flight at once (a burst could otherwise overrun the token budget N-fold). */
  maxInFlight: number;
}

/** Whether this call may go upstream: the token's model, a run not stopped, budget left. */
export function authorizeCall(facts: CallFacts): Refusal | undefined {
  if (!sameModel(facts.model, facts.claims.model)) {
    return refusal(
      'model_not_allowed',
      `model ${JSON.stringify(facts.model.slice(0, 256))} is not allowed; this task may use only ${JSON.stringify(facts.claims.model)}`,
    );
  }
  if (facts.stopped !== undefined) return refusal('tool_output_flagged', facts.stopped);
  const overBudget = checkBudget(facts.budget, facts.usage, facts.requestBytes);
  if (overBudget) return overBudget;
  if (facts.usage.inFlight >= facts.maxInFlight) {
    return refusal(
      'budget_exceeded',
      `concurrency limit: ${facts.usage.inFlight} calls of this task already in flight (at most ${facts.maxInFlight})`,
    );
  }
  return undefined;
}
