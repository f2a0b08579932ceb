/**
 * The operator's identity in tests: the service account the Helm chart creates, bound by the chart's own
 * rendered RBAC (not a test copy, not cluster-admin). Installed once per cluster (idempotent, so parallel
 * test files may race on it), then each test process gets a token for it from the TokenRequest API.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { runCommand } from '../../hack/cluster/processes.ts';
import { kubeConfig } from './kube.ts';

const HELM = join(import.meta.dirname, '../../hack/bin/helm');
const CHART = join(import.meta.dirname, '../../charts/closedpaw');
const KUBECTL = join(import.meta.dirname, '../../hack/bin/kubectl');

export const OPERATOR_NAMESPACE = 'closedpaw-system';
export const OPERATOR_SERVICE_ACCOUNT = 'closedpaw';
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
/** The human the approval UI acts as in tests, and the groups it impersonates with them. */
export const UI_APPROVER = 'closedpaw-admin';
export const UI_APPROVER_GROUPS = ['closedpaw-approvers'];

/** The chart's service account, RBAC and approval-integrity policy, as `helm template` renders them. */
export async function renderOperatorIdentity(): Promise<string> {
  const args = ['template', 'closedpaw', CHART, '-n', OPERATOR_NAMESPACE, '--kube-version', '1.36.3'];
  args.push(
    '--set',
    `uiApprover=${UI_APPROVER}`,
    '--set-json',
    `uiApproverGroups=${JSON.stringify(UI_APPROVER_GROUPS)}`,
  );
  for (const file of ['serviceaccount.yaml', 'rbac.yaml', 'approval-integrity.yaml']) {
    args.push('--show-only', `templates/${file}`);
  }
  const rendered = await runCommand(HELM, args);
  if (rendered.code !== 0) throw new Error(`helm template failed: ${rendered.stderr}`);
  return rendered.stdout;
}

const installed = new Map<string, Promise<KubeConfig>>();

/**
 * A kubeconfig that authenticates as the chart's operator service account on the cluster `admin` points at
 * (default: the test cluster), installing the identity there once.
 */
export function operatorKubeConfig(admin: KubeConfig = kubeConfig()): Promise<KubeConfig> {
  const server = admin.getCurrentCluster()?.server ?? '';
  let identity = installed.get(server);
  if (!identity) {
    identity = install(admin);
    installed.set(server, identity);
  }
  return identity;
}

async function install(admin: KubeConfig): Promise<KubeConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-admin-'));
  const file = join(dir, 'kubeconfig');
  await writeFile(file, admin.exportConfig(), { mode: 0o600 });
  const run = (args: string[], input?: string) =>
    runCommand(KUBECTL, ['--kubeconfig', file, ...args], input !== undefined ? { input } : {});
  try {
    await run(['create', 'namespace', OPERATOR_NAMESPACE]); // AlreadyExists is fine
    const apply = await run(
      ['apply', '--server-side', '--force-conflicts', '-f', '-'],
      await renderOperatorIdentity(),
    );
    if (apply.code !== 0) throw new Error(`applying the chart's RBAC failed: ${apply.stderr}`);
    const token = await run([
      'create',
      'token',
      OPERATOR_SERVICE_ACCOUNT,
      '-n',
      OPERATOR_NAMESPACE,
      '--duration=6h',
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
