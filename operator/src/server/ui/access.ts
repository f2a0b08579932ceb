/**
 * What the UI may show: only namespaces whose approvals (and tasks) the human
 * approver may read, asked of the API server with a SubjectAccessReview for the
 * approver's user and groups, cached briefly. Fail closed: an error, or an answer
 * that is not a clear "allowed", means not readable.
 */
import { AGENT_TASK, APPROVAL, GROUP } from '../../api/meta.ts';

export interface AccessReview {
  /** True only when the approver may list approvals and get tasks in `namespace`. */
  canRead(namespace: string): Promise<boolean>;
}

/** POSTs a JSON body to an API path and resolves with the parsed response (rejects on non-2xx). */
export type PostJson = (path: string, body: unknown) => Promise<unknown>;

/** ClusterClient.canI's shape: true only when a SubjectAccessReview for `who` allowed it. */
export type CanI = (
  who: { user: string; groups: readonly string[] },
  attributes: { verb: string; group: string; resource: string; namespace: string },
) => Promise<boolean>;

/** How reviews reach the API server: a raw `post`, or a `canI` that already does the review. */
export type AccessReviewTransport = { post: PostJson; canI?: never } | { canI: CanI; post?: never };

export type AccessReviewOptions = AccessReviewTransport & {
  user: string;
  /** The groups the UI impersonates with the user (system:authenticated is added, as the API server does). */
  groups?: readonly string[];
  /** How long an answer is reused (30 s). */
  ttlMs?: number;
  /** How long a failed review is remembered as "not readable" before asking again (5 s). */
  errorTtlMs?: number;
  now?: () => number;
  onError?: (namespace: string, error: unknown) => void;
};

export const SUBJECT_ACCESS_REVIEW_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

/** What reading one namespace in the UI takes: the approvals list, and the tasks they are for. */
export const READ_CHECKS = [
  { group: GROUP, resource: APPROVAL.plural, verb: 'list' },
  { group: GROUP, resource: AGENT_TASK.plural, verb: 'get' },
] as const;

/** Nobody may read anything (a UI without an approver identity shows nothing). */
export const NO_ACCESS: AccessReview = { canRead: async () => false };

export function subjectAccessReview(
  user: string,
  groups: readonly string[],
  resourceAttributes: { verb: string; group: string; resource: string; namespace: string },
) {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: { user, groups: [...groups], resourceAttributes: { ...resourceAttributes } },
  };
}

const allowed = (response: unknown): boolean =>
  (response as { status?: { allowed?: unknown; denied?: unknown } } | null)?.status?.allowed === true &&
  (response as { status: { denied?: unknown } }).status.denied !== true;

function transport(opts: AccessReviewTransport): CanI {
  const { post, canI } = opts;
  if (post) {
    return async (who, attributes) =>
      allowed(await post(SUBJECT_ACCESS_REVIEW_PATH, subjectAccessReview(who.user, who.groups, attributes)));
  }
  if (canI) return canI;
  throw new Error('an access review needs `post` or `canI` to reach the API server');
}

export function createAccessReview(opts: AccessReviewOptions): AccessReview {
  if (!opts.user) throw new Error('an access review needs the approver user name');
  const groups = [...new Set([...(opts.groups ?? []), 'system:authenticated'])];
  const ttlMs = opts.ttlMs ?? 30_000;
  const errorTtlMs = opts.errorTtlMs ?? 5_000;
  const now = opts.now ?? (() => performance.now());
  const cache = new Map<string, { until: number; answer: Promise<boolean> }>();

  const canI = transport(opts);

  async function review(namespace: string): Promise<boolean> {
    const answers = await Promise.all(
      READ_CHECKS.map((check) => canI({ user: opts.user, groups }, { namespace, ...check })),
    );
    return answers.every((a) => a === true);
  }

  return {
    canRead(namespace) {
      const hit = cache.get(namespace);
      if (hit && now() < hit.until) return hit.answer;
      if (cache.size >= 1024) {
        for (const [k, v] of cache) if (now() >= v.until) cache.delete(k);
      }
      const entry = { until: now() + ttlMs, answer: Promise.resolve(false) };
      entry.answer = review(namespace).catch((error: unknown) => {
        entry.until = Math.min(entry.until, now() + errorTtlMs);
        opts.onError?.(namespace, error);
        return false;
      });
      cache.set(namespace, entry);
      return entry.answer;
    },
  };
}
