/**
 * `closedpaw up`: installs or upgrades the chart into the kubeconfig's current context with helm, waits
 * until the operator Deployment is Ready (or says clearly why not when the wait runs out), and prints
 * how to open the UI.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppsV1Api, type KubeConfig, type V1Deployment, VersionApi } from '@kubernetes/client-node';
import { statusCode } from '../k8s/errors.ts';
import {
  type CliIo,
  durationOption,
  explainApiError,
  Failure,
  loadKubeConfig,
  runVerb,
  UsageError,
} from './common.ts';
import {
  defaultChart,
  explainHelmError,
  findHelm,
  materializeChart,
  runHelm,
  templateArgs,
  type UpArgs,
  upgradeArgs,
} from './helm.ts';
import {
  DEFAULT_NAMESPACE,
  DEFAULT_RELEASE,
  operatorPods,
  podProblem,
  releaseObjectName,
} from './operator-location.ts';

export const UP_USAGE = `usage: closedpaw up [--values FILE]... [--set KEY=VALUE]... [-n NS] [--release R] [--timeout D] [--no-wait]
  Installs the ClosedPaw chart into the current kubeconfig context, or upgrades it, then waits until the
  operator is Ready and prints how to open the approval UI.
  -f, --values FILE    a values file (repeatable; see the chart's values.yaml)
  --set KEY=VALUE      one value (repeatable), e.g. --set uiApprover=alice@example.com
  -n, --namespace NS   namespace of the operator (default ${DEFAULT_NAMESPACE}; created if missing)
  --release R          Helm release name (default ${DEFAULT_RELEASE})
  --timeout D          how long to wait for the operator to be Ready (default 5m)
  --no-wait            install or upgrade, and do not wait
  --dry-run            print what would be applied (helm template, CRDs included) and change nothing
  --helm PATH          the helm binary (default: $CLOSEDPAW_HELM, then helm on PATH)
  --chart PATH         the chart (default: the one shipped with this CLI)
Check a cluster first with closedpaw doctor --pre.
exit codes: 0 installed and Ready, 1 failed or not Ready in time, 2 usage error`;

export const OPTIONS = {
  values: { type: 'string', short: 'f', multiple: true },
  set: { type: 'string', multiple: true },
  namespace: { type: 'string', short: 'n' },
  release: { type: 'string' },
  timeout: { type: 'string' },
  'no-wait': { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  helm: { type: 'string' },
  chart: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** What `up --dry-run` renders for when no cluster answers. */
const OFFLINE_KUBE_VERSION = '1.36.0';
const RELEASE_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why the Deployment is not Ready yet; undefined when it is. */
export function deploymentNotReady(d: V1Deployment | undefined): string | undefined {
  if (!d) return 'the Deployment does not exist yet';
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0))
    return 'the Deployment controller has not seen the new spec yet';
  if ((s.updatedReplicas ?? 0) < want) return `${s.updatedReplicas ?? 0}/${want} pods run the new version`;
  if ((s.availableReplicas ?? 0) < want) return `${s.availableReplicas ?? 0}/${want} pods are Ready`;
  return undefined;
}

export async function checkReachable(kc: KubeConfig): Promise<string> {
  try {
    const v = await kc.makeApiClient(VersionApi).getCode();
    return v.gitVersion;
  } catch (error) {
    throw new Failure(explainApiError(error, kc));
  }
}

interface UpPlan {
  release: string;
  namespace: string;
  values: string[];
  set: string[];
  timeoutSeconds: number;
  wait: boolean;
}

export function runUpCli(argv: string[], io: CliIo, deps: { kubeConfig?: KubeConfig } = {}): Promise<number> {
  return runVerb(
    { name: 'up', usage: UP_USAGE, options: OPTIONS },
    argv,
    io,
    deps,
    async ({ values, positionals, env, kubeConfig }) => {
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const release = values.release ?? DEFAULT_RELEASE;
      if (!RELEASE_PATTERN.test(release) || release.length > 53) {
        throw new UsageError(
          `--release: "${release}" is not a release name (lowercase letters, digits, "-"; at most 53)`,
        );
      }
      const timeout = durationOption('--timeout', values.timeout ?? '5m', '90s or 5m');
      for (const file of values.values ?? []) {
        if (!existsSync(file)) throw new UsageError(`--values: no such file: ${file}`);
      }
      for (const pair of values.set ?? []) {
        if (!/^[^=]+=/.test(pair)) throw new UsageError(`--set: "${pair}" is not KEY=VALUE`);
      }
      const chartDir = values.chart ?? defaultChart();
      if (!existsSync(`${chartDir}/Chart.yaml`))
        throw new UsageError(`--chart: no Chart.yaml in ${chartDir}`);
      const helm = findHelm(values.helm, env);
      const plan: UpPlan = {
        release,
        namespace: values.namespace ?? DEFAULT_NAMESPACE,
        values: values.values ?? [],
        set: values.set ?? [],
        timeoutSeconds: timeout,
        wait: !values['no-wait'],
      };
      const chart = materializeChart(chartDir);
      try {
        const args = { ...plan, chart: chart.dir };
        if (values['dry-run']) {
          // Rendered for the current cluster's version when it answers, else for a recent one.
          const version = await (async () => {
            try {
              return (await checkReachable(deps.kubeConfig ?? loadKubeConfig(env)))
                .replace(/^v/, '')
                .split('-')[0];
            } catch {
              return OFFLINE_KUBE_VERSION;
            }
          })();
          const rendered = await runHelm(
            helm,
            [...templateArgs(args), '--kube-version', version ?? OFFLINE_KUBE_VERSION],
            env,
          );
          if (rendered.code !== 0) throw new Failure(`helm: ${explainHelmError(rendered.stderr)}`);
          io.stdout(rendered.stdout);
          return 0;
        }
        return await install(kubeConfig(), helm, args, plan, io, env);
      } finally {
        chart.cleanup();
      }
    },
  );
}

async function install(
  kc: KubeConfig,
  helm: string,
  args: UpArgs,
  plan: UpPlan,
  io: CliIo,
  env: Record<string, string | undefined>,
): Promise<number> {
  const { release, namespace } = plan;
  const server = await checkReachable(kc);
  io.stderr(
    `installing ClosedPaw (release ${release}) into namespace ${namespace} on ${kc.getCurrentCluster()?.server} (${server})…\n`,
  );
  const result = await runHelm(helm, upgradeArgs(args), env);
  if (result.code !== 0) throw new Failure(`helm: ${explainHelmError(result.stderr)}`);
  let revision: number | undefined;
  try {
    revision = (JSON.parse(result.stdout) as { version?: number }).version;
  } catch {
    revision = undefined;
  }
  io.stderr(
    `helm: release ${release} ${revision === 1 ? 'installed' : 'upgraded'}${revision ? ` (revision ${revision})` : ''}\n`,
  );
  if (plan.wait) await waitReady(kc, namespace, releaseObjectName(release), plan.timeoutSeconds, io);
  io.stdout(
    [
      `ClosedPaw is ${plan.wait ? 'Ready' : 'installed'} in namespace ${namespace} (release ${release}${revision ? `, revision ${revision}` : ''}).`,
      `  open the approval UI:  closedpaw ui -n ${namespace}`,
      `  check everything:      closedpaw doctor -n ${namespace}`,
      '  run a task:            closedpaw run "Summarize the workspace" --model <model> --tools fs.list,fs.read',
      '',
    ].join('\n'),
  );
  return 0;
}

async function waitReady(
  kc: KubeConfig,
  namespace: string,
  name: string,
  timeoutSeconds: number,
  io: CliIo,
): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = '';
  for (;;) {
    const deployment = await apps.readNamespacedDeployment({ namespace, name }).catch((error: unknown) => {
      if (statusCode(error) === 404) return undefined;
      throw error;
    });
    const why = deploymentNotReady(deployment);
    if (!why) {
      io.stderr(`operator ${namespace}/${name} is Ready\n`);
      return;
    }
    const pods = deployment
      ? await operatorPods(kc, { namespace, deployment, container: { name: '' }, name })
      : [];
    const detail = `${why}; ${podProblem(pods[0])}`;
    if (detail !== last) {
      io.stderr(`waiting for the operator: ${detail}\n`);
      last = detail;
    }
    if (Date.now() >= deadline) {
      const pod = pods[0]?.metadata?.name;
      throw new Failure(
        `the operator is not Ready after ${timeoutSeconds}s (${detail}). The chart is installed; ` +
          `${pod ? `see kubectl describe pod ${pod} -n ${namespace}` : `see kubectl describe deployment ${name} -n ${namespace}`}` +
          `, then closedpaw doctor -n ${namespace}`,
      );
    }
    await sleep(Math.min(2000, Math.max(100, deadline - Date.now())));
  }
}
