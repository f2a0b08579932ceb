/**
 * The operator's own identity on a cluster it was not installed on by Helm (`npm run dev`, tests): the chart's
 * service account, RBAC and approval-integrity policy, as `helm template` renders them, applied with an admin
 * kubeconfig; then a token for that service account from the TokenRequest API. The operator then runs with
 * exactly the rights the chart gives it, and the API server's policies see it as the operator.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { runCommand } from './processes.ts';

const HELM = join(import.meta.dirname, '../bin/helm');
const KUBECTL = join(import.meta.dirname, '../bin/kubectl');
const CHART = join(import.meta.dirname, '../../charts/closedpaw');

export const OPERATOR_NAMESPACE = 'closedpaw-system';
export const OPERATOR_SERVICE_ACCOUNT = 'closedpaw';
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;

/** The human the approval UI acts as (the operator may impersonate only them, with these groups). */
export interface UiApprover {
  user: string;
  groups: string[];
}

/** The chart's service account, RBAC and approval-integrity policy, as `helm template` renders them. */
async function renderOperatorIdentity(approver: UiApprover): Promise<string> {
  const args = ['template', 'closedpaw', CHART, '-n', OPERATOR_NAMESPACE, '--kube-version', '1.36.3'];
  args.push(
    '--set',
    `uiApprover=${approver.user}`,
    '--set-json',
    `uiApproverGroups=${JSON.stringify(approver.groups)}`,
  );
  for (const file of ['serviceaccount.yaml', 'rbac.yaml', 'approval-integrity.yaml']) {
    args.push('--show-only', `templates/${file}`);
  }
  const rendered = await runCommand(HELM, args);
  if (rendered.code !== 0) throw new Error(`helm template failed: ${rendered.stderr}`);
  return rendered.stdout;
}

/**
 * Installs the identity with `admin` (idempotent: parallel callers may race on it) and returns a kubeconfig
 * that authenticates as the operator's service account, with a token valid for `tokenDuration`.
 */
export async function installOperatorIdentity(
  admin: KubeConfig,
  approver: UiApprover,
  tokenDuration = '6h',
): Promise<KubeConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-admin-'));
  const file = join(dir, 'kubeconfig');
  await writeFile(file, admin.exportConfig(), { mode: 0o600 });
  const run = (args: string[], input?: string) =>
    runCommand(KUBECTL, ['--kubeconfig', file, ...args], input !== undefined ? { input } : {});
  try {
    await run(['create', 'namespace', OPERATOR_NAMESPACE]); // AlreadyExists is fine
    const apply = await run(
      ['apply', '--server-side', '--force-conflicts', '-f', '-'],
      await renderOperatorIdentity(approver),
    );
    if (apply.code !== 0) throw new Error(`applying the chart's RBAC failed: ${apply.stderr}`);
    const token = await run([
      'create',
      'token',
      OPERATOR_SERVICE_ACCOUNT,
      '-n',
      OPERATOR_NAMESPACE,
      `--duration=${tokenDuration}`,
    ]);
    if (token.code !== 0) throw new Error(`requesting a token for the operator failed: ${token.stderr}`);
    const cluster = admin.getCurrentCluster();
    if (!cluster) throw new Error('the admin kubeconfig has no current cluster');
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'operator', token: token.stdout.trim() }],
      contexts: [{ name: 'operator', cluster: cluster.name, user: 'operator' }],
      currentContext: 'operator',
    });
    return kc;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
