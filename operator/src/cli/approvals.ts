/**
 * `closedpaw approvals | approve | deny`: decide approvals from a terminal, as
 * the user of the current kubeconfig. The user name comes from the API server
 * (SelfSubjectReview, like `kubectl auth whoami`), the decision is a plain merge
 * patch without impersonation, so the API server's admission policy checks the
 * real identity. Its refusal is printed verbatim and the exit code is non-zero.
 */
import { parseArgs } from 'node:util';
import {
  AuthenticationV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from '../api/meta.ts';
import type { AgentTask, Approval } from '../api/types.ts';
import { errorMessage, statusCode, statusReason } from '../k8s/errors.ts';
import { specDigest } from '../policy/digest.ts';

export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

const USAGE = `usage:
  closedpaw approvals [-n NAMESPACE | -A]               list approvals
  closedpaw approve NAME [-n NAMESPACE] [--reason TEXT]  approve as your kubeconfig user
  closedpaw deny NAME [-n NAMESPACE] [--reason TEXT]     deny as your kubeconfig user
The namespace defaults to the kubeconfig context's namespace, else "default".
exit codes: 0 ok, 1 refused or failed, 2 usage error`;

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A', default: false },
  reason: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

class UsageError extends Error {}
/** A refusal with a message already meant for the user. */
class Refused extends Error {}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const approvalPath = { group: GROUP, version: VERSION, plural: APPROVAL.plural };

export async function runApprovalsCli(argv: string[], io: CliIo, kubeConfig?: KubeConfig): Promise<number> {
  let verb: string | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const [first, ...rest] = positionals;
    verb = first;
    if (values.help) {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    const kc = kubeConfig ?? defaultKubeConfig();
    const namespace = values.namespace ?? contextNamespace(kc);
    switch (verb) {
      case 'approvals': {
        if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
        if (values.reason !== undefined) throw new UsageError('--reason only applies to approve and deny');
        if (values['all-namespaces'] && values.namespace)
          throw new UsageError('use either -n or -A, not both');
        return await list(kc, values['all-namespaces'] ? undefined : namespace, io);
      }
      case 'approve':
      case 'deny': {
        if (rest.length === 0) throw new UsageError(`${verb} needs the name of an approval`);
        if (rest.length > 1) throw new UsageError(`unexpected argument: ${rest[1]}`);
        if (values['all-namespaces']) throw new UsageError(`${verb} acts in one namespace: use -n, not -A`);
        const verdict = verb === 'approve' ? 'Approved' : 'Denied';
        return await decide(kc, namespace, rest[0]!, verdict, values.reason, io);
      }
      default:
        throw new UsageError(verb ? `unknown command "${verb}"` : 'missing command');
    }
  } catch (error) {
    const prefix = `closedpaw${verb ? ` ${verb}` : ''}`;
    if (error instanceof UsageError || isParseArgsError(error)) {
      io.stderr(`${prefix}: ${(error as Error).message}\n${USAGE}\n`);
      return 2;
    }
    if (error instanceof Refused) {
      io.stderr(`${prefix}: ${error.message}\n`);
      return 1;
    }
    io.stderr(`${prefix}: ${describeApiError(error)}\n`);
    return 1;
  }
}

/** util.parseArgs failures (an ApiException's numeric `code` is not one). */
const isParseArgsError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
};

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
}

/** The API server's words, kubectl style: `Error from server (Forbidden): …`. */
export function describeApiError(error: unknown): string {
  const code = statusCode(error);
  if (code === undefined || code === 0) return error instanceof Error ? error.message : String(error);
  const reason = statusReason(error);
  return `Error from server${reason ? ` (${reason})` : ` (HTTP ${code})`}: ${errorMessage(error)}`;
}

// ---------------------------------------------------------------- list

/** `in 29m` / `3m ago`. */
export function relativeTime(target: Date, now: Date): string {
  const ms = target.getTime() - now.getTime();
  const s = Math.floor(Math.abs(ms) / 1000);
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  const span = d >= 2 ? `${d}d` : h >= 1 ? `${h}h${m % 60 ? `${m % 60}m` : ''}` : m >= 1 ? `${m}m` : `${s}s`;
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

export function approvalRows(approvals: Approval[], now: Date): string[][] {
  const sorted = [...approvals].sort(
    (a, b) =>
      (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
      String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) ||
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  );
  const header = ['NAMESPACE', 'NAME', 'TASK', 'STATE', 'RISK', 'DECIDED-BY', 'EXPIRES'];
  return [
    header,
    ...sorted.map((a) => [
      a.metadata.namespace ?? '',
      a.metadata.name ?? '',
      a.spec.taskRef.name,
      a.status?.state ?? 'Pending',
      a.spec.risk.level,
      a.status?.decidedBy ?? a.spec.decision?.decidedBy ?? '-',
      relativeTime(new Date(a.spec.expiresAt), now),
    ]),
  ];
}

async function list(kc: KubeConfig, namespace: string | undefined, io: CliIo): Promise<number> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const result = (
    namespace === undefined
      ? await custom.listClusterCustomObject(approvalPath)
      : await custom.listNamespacedCustomObject({ ...approvalPath, namespace })
  ) as { items: Approval[] };
  if (result.items.length === 0) {
    io.stderr(`No approvals found${namespace === undefined ? '' : ` in namespace ${namespace}`}.\n`);
    return 0;
  }
  io.stdout(`${formatTable(approvalRows(result.items, new Date()))}\n`);
  return 0;
}

// ---------------------------------------------------------------- decide

/** Who the API server says we are (`kubectl auth whoami`). */
export async function whoAmI(kc: KubeConfig): Promise<string> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  const username = review.status?.userInfo?.username;
  if (!username)
    throw new Refused('the API server did not tell who you are (SelfSubjectReview has no username)');
  return username;
}

async function readTask(
  custom: CustomObjectsApi,
  namespace: string,
  name: string,
): Promise<AgentTask | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: AGENT_TASK.plural,
      namespace,
      name,
    })) as AgentTask;
  } catch {
    // Missing, or no RBAC to read tasks: the approval itself still binds the digest.
    return undefined;
  }
}

async function decide(
  kc: KubeConfig,
  namespace: string,
  name: string,
  verdict: 'Approved' | 'Denied',
  reason: string | undefined,
  io: CliIo,
): Promise<number> {
  if (reason !== undefined && reason.length > 1024)
    throw new UsageError('--reason must be at most 1024 characters');
  const custom = kc.makeApiClient(CustomObjectsApi);
  const user = await whoAmI(kc);
  const decision = { verdict, decidedBy: user, ...(reason ? { reason } : {}) };
  for (let attempt = 0; ; attempt++) {
    const approval = (await custom.getNamespacedCustomObject({
      ...approvalPath,
      namespace,
      name,
    })) as Approval;
    const earlier = approval.spec.decision;
    const state = approval.status?.state ?? 'Pending';
    if (!earlier) {
      // A decision on an approval that no longer counts would be accepted by the API and change nothing.
      if (state !== 'Pending')
        throw new Refused(`approval ${namespace}/${name} is ${state}: a decision no longer counts`);
      if (Date.now() >= Date.parse(approval.spec.expiresAt)) {
        throw new Refused(
          `approval ${namespace}/${name} expired at ${approval.spec.expiresAt}: it counts as denied`,
        );
      }
      if (verdict === 'Approved') {
        const task = await readTask(custom, namespace, approval.spec.taskRef.name);
        if (
          task &&
          task.metadata.uid === approval.spec.taskRef.uid &&
          specDigest(task.spec) !== approval.spec.taskDigest
        ) {
          throw new Refused(
            `task ${task.metadata.name} changed after approval ${name} was requested; the operator requests a new approval`,
          );
        }
      }
    }
    // When a decision exists, the patch still goes to the API server: its policy states the rule.
    const body = {
      metadata: { resourceVersion: approval.metadata.resourceVersion },
      spec: { decision },
    };
    let patched: Approval;
    try {
      patched = (await custom.patchNamespacedCustomObject(
        { ...approvalPath, namespace, name, body, fieldManager: 'closedpaw-cli' },
        mergePatch,
      )) as Approval;
    } catch (error) {
      // Conflict: the approval changed since we read it (the operator wrote its status): read again.
      if (statusCode(error) === 409 && statusReason(error) === 'Conflict' && attempt < 4) continue;
      throw error;
    }
    if (earlier) {
      // The API server accepted an identical, already-recorded decision: nothing new happened.
      throw new Refused(
        `approval ${namespace}/${name} was already decided: ${earlier.verdict} by ${earlier.decidedBy}`,
      );
    }
    const done = verdict === 'Approved' ? 'approved' : 'denied';
    io.stdout(
      `approval ${namespace}/${name} ${done} as ${patched.spec.decision?.decidedBy ?? user} ` +
        `(task ${approval.spec.taskRef.name}, ${approval.spec.taskDigest})\n`,
    );
    return 0;
  }
}
