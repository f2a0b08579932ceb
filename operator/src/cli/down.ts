/**
 * `closedpaw down`: uninstalls in the order that leaves nothing behind. Every AgentTask the operator serves
 * is deleted first, while the operator still runs, and `down` waits until the tasks, their sandbox pods and
 * their NetworkPolicies are gone (the operator releases each policy's finalizer once its pod is gone: with
 * the operator uninstalled first, policies would stay Terminating — fail closed, by design). Then the
 * Helm release goes; the CRDs stay unless --delete-crds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  NetworkingV1Api,
} from '@kubernetes/client-node';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from '../api/meta.ts';
import type { AgentTask } from '../api/types.ts';
import { statusCode } from '../k8s/errors.ts';
import { type CliIo, durationOption, explainApiError, Failure, runVerb, UsageError } from './common.ts';
import { explainHelmError, findHelm, runHelm, uninstallArgs } from './helm.ts';
import {
  DEFAULT_NAMESPACE,
  DEFAULT_RELEASE,
  envValue,
  findOperator,
  operatorPods,
  podReady,
} from './operator-location.ts';
import { checkReachable } from './up.ts';

export const DOWN_USAGE = `usage: closedpaw down [-n NS] [--release R] [--timeout D] [--delete-crds]
  Deletes every AgentTask the operator serves and waits until they, their sandbox pods and their
  NetworkPolicies are gone (the operator must still run for that), then uninstalls the Helm release.
  -n, --namespace NS   namespace of the operator (default ${DEFAULT_NAMESPACE})
  --release R          Helm release name (default ${DEFAULT_RELEASE})
  --timeout D          how long to wait for the tasks to go (default 5m)
  --delete-crds        also delete the AgentTask and Approval CRDs (and so every object of those kinds)
  --helm PATH          the helm binary (default: $CLOSEDPAW_HELM, then helm on PATH)
The audit log's volumes are kept (persistence.keepOnUninstall): delete them yourself when done.
exit codes: 0 uninstalled, 1 failed or timed out (nothing is uninstalled before the tasks are gone), 2 usage error`;

export const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  release: { type: 'string' },
  timeout: { type: 'string' },
  'delete-crds': { type: 'boolean', default: false },
  helm: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const SANDBOX_SELECTOR = 'app.kubernetes.io/managed-by=closedpaw,closedpaw.dev/role=agent';

export interface Leftovers {
  tasks: number;
  pods: number;
  policies: number;
}

export const nothingLeft = (l: Leftovers) => l.tasks === 0 && l.pods === 0 && l.policies === 0;

export const describeLeftovers = (l: Leftovers) =>
  `${l.tasks} AgentTask${l.tasks === 1 ? '' : 's'}, ${l.pods} sandbox pod${l.pods === 1 ? '' : 's'}, ${l.policies} NetworkPolic${l.policies === 1 ? 'y' : 'ies'}`;

const TASKS = { group: GROUP, version: VERSION, plural: AGENT_TASK.plural };

/** The AgentTasks in the operator's scope (one namespace, or all). */
async function listTasks(kc: KubeConfig, scope: string | undefined): Promise<AgentTask[]> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  return (
    (scope
      ? await custom.listNamespacedCustomObject({ ...TASKS, namespace: scope })
      : await custom.listClusterCustomObject(TASKS)) as { items: AgentTask[] }
  ).items;
}

/** What is still there, in the operator's scope. */
async function leftovers(kc: KubeConfig, scope: string | undefined): Promise<Leftovers> {
  const core = kc.makeApiClient(CoreV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const tasks = await listTasks(kc, scope);
  const pods = scope
    ? await core.listNamespacedPod({ namespace: scope, labelSelector: SANDBOX_SELECTOR })
    : await core.listPodForAllNamespaces({ labelSelector: SANDBOX_SELECTOR });
  const policies = scope
    ? await net.listNamespacedNetworkPolicy({ namespace: scope, labelSelector: SANDBOX_SELECTOR })
    : await net.listNetworkPolicyForAllNamespaces({ labelSelector: SANDBOX_SELECTOR });
  return { tasks: tasks.length, pods: pods.items.length, policies: policies.items.length };
}

async function deleteTasks(kc: KubeConfig, scope: string | undefined): Promise<number> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const list = await listTasks(kc, scope);
  for (const task of list) {
    if (task.metadata.deletionTimestamp) continue;
    await custom
      .deleteNamespacedCustomObject({
        ...TASKS,
        namespace: task.metadata.namespace!,
        name: task.metadata.name!,
      })
      .catch((error: unknown) => {
        if (statusCode(error) !== 404) throw error;
      });
  }
  return list.length;
}

const crdMissing = (error: unknown) => statusCode(error) === 404;

export function runDownCli(
  argv: string[],
  io: CliIo,
  deps: { kubeConfig?: KubeConfig } = {},
): Promise<number> {
  return runVerb(
    { name: 'down', usage: DOWN_USAGE, options: OPTIONS },
    argv,
    io,
    deps,
    async ({ values, positionals, env, kubeConfig }) => {
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const timeout = durationOption('--timeout', values.timeout ?? '5m', '90s or 5m');
      const helm = findHelm(values.helm, env);
      const kc = kubeConfig();
      await checkReachable(kc);
      const namespace = values.namespace ?? DEFAULT_NAMESPACE;
      const release = values.release ?? DEFAULT_RELEASE;
      const status = await runHelm(helm, ['status', release, '--namespace', namespace], env);
      if (status.code !== 0) throw new Failure(`helm: ${explainHelmError(status.stderr)}`);

      const operator = await findOperator(kc, namespace, release);
      const scope = envValue(operator?.container, 'CLOSEDPAW_WATCH_NAMESPACE') || undefined;
      let left: Leftovers;
      try {
        left = await leftovers(kc, scope);
      } catch (error) {
        if (!crdMissing(error)) throw error;
        left = { tasks: 0, pods: 0, policies: 0 };
      }
      if (!nothingLeft(left)) {
        const running = operator ? (await operatorPods(kc, operator)).some(podReady) : false;
        if (!running) {
          io.stderr(
            'warning: the operator is not Ready: sandbox NetworkPolicies keep their finalizer until it runs again (fail closed)\n',
          );
        }
        const deleted = await deleteTasks(kc, scope);
        io.stderr(
          `deleting ${deleted} AgentTask${deleted === 1 ? '' : 's'}${scope ? ` in namespace ${scope}` : ''}; waiting for their sandboxes to go…\n`,
        );
        const deadline = Date.now() + timeout * 1000;
        let shown = '';
        for (;;) {
          left = await leftovers(kc, scope);
          if (nothingLeft(left)) break;
          const now = describeLeftovers(left);
          if (now !== shown) {
            io.stderr(`  left: ${now}\n`);
            shown = now;
          }
          if (Date.now() >= deadline) {
            throw new Failure(
              `after ${timeout}s there are still ${now}; nothing was uninstalled. ` +
                'The operator releases each NetworkPolicy once its pod is gone: check it runs (closedpaw doctor), then run closedpaw down again',
            );
          }
          await sleep(500);
        }
        io.stderr('all AgentTasks, sandbox pods and their NetworkPolicies are gone\n');
      }

      const uninstall = await runHelm(helm, uninstallArgs(release, namespace, timeout), env);
      if (uninstall.code !== 0) throw new Failure(`helm: ${explainHelmError(uninstall.stderr)}`);
      io.stderr(`helm: release ${release} uninstalled from namespace ${namespace}\n`);

      if (values['delete-crds']) {
        const ext = kc.makeApiClient(ApiextensionsV1Api);
        for (const kind of [AGENT_TASK, APPROVAL]) {
          const name = `${kind.plural}.${GROUP}`;
          await ext.deleteCustomResourceDefinition({ name }).catch((error: unknown) => {
            if (statusCode(error) !== 404)
              throw new Failure(explainApiError(error, kc, `delete customresourcedefinitions/${name}`));
          });
        }
        io.stderr('deleted the AgentTask and Approval CRDs\n');
      }
      io.stdout(
        `ClosedPaw is uninstalled from namespace ${namespace}${values['delete-crds'] ? ' (CRDs deleted)' : ' (CRDs kept: closedpaw down --delete-crds removes them)'}.\n`,
      );
      return 0;
    },
  );
}
