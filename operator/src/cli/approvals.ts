/**
 * `closedpaw approvals | approve | deny`: decide approvals from a terminal, as
 * the user of the current kubeconfig. The user name comes from the API server
 * (SelfSubjectReview, like `kubectl auth whoami`), the decision is a plain merge
 * patch without impersonation, so the API server's admission policy checks the
 * real identity. Its refusal is printed verbatim and the exit code is non-zero.
 *
 * Before deciding, the CLI reads the task and shows what is being decided (prompt
 * excerpt, tools, runtime, limits, budget, the risk recomputed from the task, the
 * digest, the expiry); it refuses when the task cannot be read, is not the task the
 * approval was made for, or no longer has the approval's digest. `approve` asks for
 * confirmation on a terminal, and needs --yes without one.
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
import { statusCode, statusReason } from '../k8s/errors.ts';
import {
  type Assessment,
  assessApproval,
  effectiveExpiry,
  MAX_APPROVAL_TTL_SECONDS,
  recordedRiskIfDifferent,
} from '../server/ui/assess.ts';
import {
  type CliIo,
  confirm,
  contextNamespace,
  describeApiError,
  Failure,
  isInteractive,
  isParseArgsError,
  UsageError,
} from './common.ts';

const USAGE = `usage:
  closedpaw approvals [-n NAMESPACE | -A]                      list approvals
  closedpaw approve NAME [-n NAMESPACE] [--reason TEXT] [--yes] approve as your kubeconfig user
  closedpaw deny NAME [-n NAMESPACE] [--reason TEXT]           deny as your kubeconfig user
approve and deny first show what is decided: the task's prompt (first 300 characters, control
characters escaped), model, runtime, tools, limits, budget, the risk recomputed from the task, the
digest and the expiry. approve then asks "Approve? [y/N]" on a terminal; without one it needs --yes.
Both refuse (exit 1) when the task cannot be read, is not the task the approval was made for, or has
changed since the approval was requested (the operator then requests a new one).
"expires" is spec.expiresAt, capped at the approval's creation + 7 days (the longest TTL the CRD
allows); the operator may enforce a shorter TTL (CLOSEDPAW_APPROVAL_TTL_SECONDS).
The namespace defaults to the kubeconfig context's namespace, else "default".
exit codes: 0 ok, 1 refused or failed, 2 usage error`;

export const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A', default: false },
  reason: { type: 'string' },
  yes: { type: 'boolean', short: 'y', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

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
        if (values.yes) throw new UsageError('--yes only applies to approve and deny');
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
        if (verdict === 'Approved' && !values.yes && !isInteractive(io)) {
          throw new UsageError(
            'approve asks "Approve? [y/N]" and there is no terminal to ask on: run it in a terminal, ' +
              'or pass --yes to approve what its summary shows',
          );
        }
        return await decide(
          kc,
          { namespace, name: rest[0]!, verdict, reason: values.reason, yes: values.yes },
          io,
        );
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
    if (error instanceof Failure) {
      io.stderr(`${prefix}: ${error.message}\n`);
      return 1;
    }
    io.stderr(`${prefix}: ${describeApiError(error)}\n`);
    return 1;
  }
}

/** The kubeconfig as client-node loads it (unlike loadKubeConfig, no file is required). */
function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
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

const taskKey = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

/**
 * The table. RISK is recomputed from each approval's task (`?` when the task is not among `tasks`:
 * unreadable, deleted or re-created); EXPIRES is spec.expiresAt capped at creation + 7 days.
 */
export function approvalRows(approvals: Approval[], now: Date, tasks: AgentTask[] = []): string[][] {
  const byKey = new Map(tasks.map((t) => [taskKey(t.metadata.namespace, t.metadata.name ?? ''), t]));
  const sorted = [...approvals].sort(
    (a, b) =>
      (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
      String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')) ||
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  );
  const header = ['NAMESPACE', 'NAME', 'TASK', 'STATE', 'RISK', 'DECIDED-BY', 'EXPIRES'];
  return [
    header,
    ...sorted.map((a) => {
      const task = byKey.get(taskKey(a.metadata.namespace, a.spec.taskRef.name));
      const assessed = assessApproval(a, task, { now, ttlSeconds: MAX_APPROVAL_TTL_SECONDS });
      const expiry = effectiveExpiry(a, MAX_APPROVAL_TTL_SECONDS);
      return [
        a.metadata.namespace ?? '',
        a.metadata.name ?? '',
        a.spec.taskRef.name,
        a.status?.state ?? 'Pending',
        assessed.task?.risk.level ?? '?',
        a.status?.decidedBy ?? a.spec.decision?.decidedBy ?? '-',
        expiry ? relativeTime(expiry, now) : 'invalid',
      ];
    }),
  ];
}

async function list(kc: KubeConfig, namespace: string | undefined, io: CliIo): Promise<number> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const taskPath = { group: GROUP, version: VERSION, plural: AGENT_TASK.plural };
  const listOf = async (path: { group: string; version: string; plural: string }) =>
    (
      (namespace === undefined
        ? await custom.listClusterCustomObject(path)
        : await custom.listNamespacedCustomObject({ ...path, namespace })) as { items: unknown[] }
    ).items;
  const approvals = (await listOf(approvalPath)) as Approval[];
  if (approvals.length === 0) {
    io.stderr(`No approvals found${namespace === undefined ? '' : ` in namespace ${namespace}`}.\n`);
    return 0;
  }
  // Without the right to read tasks the risk cannot be recomputed: it is shown as `?`.
  const tasks = (await listOf(taskPath).catch(() => [])) as AgentTask[];
  io.stdout(`${formatTable(approvalRows(approvals, new Date(), tasks))}\n`);
  return 0;
}

// ---------------------------------------------------------------- summary

const PROMPT_EXCERPT_CHARS = 300;

/** One character as the terminal must show it: control, format and line-separator characters escaped. */
function escapeChar(ch: string): string {
  switch (ch) {
    case '\\':
      return '\\\\';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(ch)
        ? `\\u{${ch.codePointAt(0)!.toString(16).toUpperCase()}}`
        : ch;
  }
}

/** `text` with every control character escaped (so nothing can move the cursor or reorder what is shown). */
export const escapeControl = (text: string): string => Array.from(text, escapeChar).join('');

/** The first at most `max` characters of the escaped text (never half an escape); `cut` when it is not all. */
export function excerpt(text: string, max = PROMPT_EXCERPT_CHARS): { text: string; cut: boolean } {
  let out = '';
  for (const ch of text) {
    const piece = escapeChar(ch);
    if (out.length + piece.length > max) return { text: out, cut: true };
    out += piece;
  }
  return { text: out, cut: false };
}

/** What the human is deciding, as lines for the terminal. */
export function summaryLines(
  approval: Approval,
  assessed: Assessment,
  now: Date,
  taskProblem?: string,
): string[] {
  const ns = approval.metadata.namespace ?? '';
  const name = approval.metadata.name ?? '';
  const taskName = approval.spec.taskRef.name;
  const lines: Array<[string, string]> = [
    ['Approval', `${ns}/${name} (${assessed.state})`],
    ['Task', `${taskName} (uid ${approval.spec.taskRef.uid})`],
  ];
  const t = assessed.task;
  if (!t) {
    lines.push([
      '',
      `cannot be shown: ${taskProblem ?? 'the task is not the one this approval was made for'}`,
    ]);
  } else {
    const s = t.spec;
    const prompt = excerpt(s.prompt);
    const count = Array.from(s.prompt).length;
    lines.push(
      ['Prompt', `"${prompt.text}"${prompt.cut ? '…' : ''}`],
      [
        '',
        `${count} characters${prompt.cut ? `; read it all: kubectl get agenttask ${taskName} -n ${ns} -o jsonpath='{.spec.prompt}'` : ''}`,
      ],
      ['Model', escapeControl(s.model)],
      ['Runtime', s.runtimeClassName],
      ['Tools', s.tools.length > 0 ? [...s.tools].sort().join(', ') : 'none'],
      [
        'Limits',
        `cpu ${s.resources.cpu}, memory ${s.resources.memory}, ephemeral storage ${s.resources.ephemeralStorage}, timeout ${s.timeoutSeconds}s`,
      ],
      ['Budget', `${s.budget.modelCalls} model calls, ${s.budget.tokens} tokens, ${s.budget.bytes} bytes`],
      ['Inputs', s.inputs?.length ? s.inputs.map((i) => i.path).join(', ') : 'none'],
      ['Risk', `${t.risk.level} (recomputed from the task)`],
      ...t.risk.reasons.map((r): [string, string] => ['', `- ${escapeControl(r)}`]),
    );
  }
  const recorded = recordedRiskIfDifferent(approval, t?.risk);
  if (recorded) {
    lines.push(
      ['Recorded', `the approval records risk ${escapeControl(recorded.level)} (a claim, not trusted)`],
      ...recorded.reasons.map((r): [string, string] => ['', `- ${escapeControl(r)}`]),
    );
  }
  const approvers = approval.spec.approvers;
  if (approvers) {
    const who = [...(approvers.users ?? []), ...(approvers.groups ?? []).map((g) => `group ${g}`)];
    lines.push(['Approvers', escapeControl(who.join(', '))]);
  }
  lines.push(['Digest', `${approval.spec.taskDigest} (bound by the approval)`]);
  if (t)
    lines.push([
      '',
      `${t.digest} (the task now: ${t.digest === approval.spec.taskDigest ? 'same' : 'DIFFERENT'})`,
    ]);
  const expiry = Date.parse(assessed.expiresAt);
  const when = Number.isFinite(expiry) ? relativeTime(new Date(expiry), now) : 'invalid';
  lines.push(['Expires', `${assessed.expiresAt} (${when}; no decision by then counts as a denial)`]);
  if (Date.parse(approval.spec.expiresAt) - expiry >= 1000) {
    lines.push(['', `the approval asks for ${approval.spec.expiresAt}: capped at its creation + 7 days`]);
  }
  const width = Math.max(...lines.map(([label]) => label.length));
  return lines.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
}

// ---------------------------------------------------------------- decide

/** Who the API server says we are (`kubectl auth whoami`). */
export async function whoAmI(kc: KubeConfig): Promise<string> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  const username = review.status?.userInfo?.username;
  if (!username)
    throw new Failure('the API server did not tell who you are (SelfSubjectReview has no username)');
  return username;
}

/** The task, or why it cannot be read, in words that say what to do. */
async function readTask(
  custom: CustomObjectsApi,
  namespace: string,
  name: string,
): Promise<{ task: AgentTask } | { problem: string }> {
  try {
    return {
      task: (await custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: AGENT_TASK.plural,
        namespace,
        name,
      })) as AgentTask,
    };
  } catch (error) {
    const code = statusCode(error);
    if (code === 404) return { problem: 'it does not exist (deleted?)' };
    if (code === 401 || code === 403) {
      return {
        problem:
          `you may not read it (${describeApiError(error)}); ask for "get agenttasks" in namespace ` +
          `${namespace} (the approver role), so you can see what you decide`,
      };
    }
    return { problem: describeApiError(error) };
  }
}

interface DecideRequest {
  namespace: string;
  name: string;
  verdict: 'Approved' | 'Denied';
  reason: string | undefined;
  /** Approve without asking (what the summary shows is still checked). */
  yes: boolean;
}

async function decide(kc: KubeConfig, req: DecideRequest, io: CliIo): Promise<number> {
  const { namespace, name, verdict, reason } = req;
  if (reason !== undefined && reason.length > 1024)
    throw new UsageError('--reason must be at most 1024 characters');
  const custom = kc.makeApiClient(CustomObjectsApi);
  const user = await whoAmI(kc);
  const decision = { verdict, decidedBy: user, ...(reason ? { reason } : {}) };
  let shown: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const approval = (await custom.getNamespacedCustomObject({
      ...approvalPath,
      namespace,
      name,
    })) as Approval;
    const earlier = approval.spec.decision;
    // When a decision exists, the patch still goes to the API server: its policy states the rule.
    if (!earlier) {
      const read = await readTask(custom, namespace, approval.spec.taskRef.name);
      const task = 'task' in read ? read.task : undefined;
      const problem = 'problem' in read ? read.problem : undefined;
      const now = new Date();
      const assessed = assessApproval(approval, task, {
        now,
        ttlSeconds: MAX_APPROVAL_TTL_SECONDS,
        ...(problem ? { taskProblem: problem } : {}),
      });
      if (shown === undefined) {
        io.stdout(`${summaryLines(approval, assessed, now, problem).join('\n')}\n`);
        shown = assessed.task?.digest ?? '';
      }
      if (!assessed.decidable) throw new Failure(`${assessed.blocker!.message}. Nothing was changed.`);
      if (assessed.task!.digest !== shown) {
        throw new Failure(
          `task ${approval.spec.taskRef.name} changed while you were deciding. Nothing was changed.`,
        );
      }
      if (attempt === 0 && verdict === 'Approved' && !req.yes) {
        if (!(await confirm(io, 'Approve? [y/N] '))) throw new Failure('not approved: nothing was changed.');
        if (Date.now() >= Date.parse(assessed.expiresAt)) {
          throw new Failure(
            `approval ${namespace}/${name} expired while you were deciding. Nothing was changed.`,
          );
        }
      }
    }
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
      throw new Failure(
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
